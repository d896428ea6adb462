import { Clock, Context, Duration, Effect, Either, Fiber, Layer, Option, Scope } from "effect"
import { randomBytes } from "node:crypto"
import { type ConfigError, type HistorySchemaError, type InvalidInputError, type PersistenceError, ResumeRefusedError, type RunBusyError } from "../domain/Errors.js"
import { makeRunId, type TaskId } from "../domain/Ids.js"
import { DEFAULT_STOP_GRACE_MS, type Pipeline } from "../domain/ProjectConfig.js"
import { isDone, tokensMatch } from "../domain/ResumePolicy.js"
import type { ResumeEvent, RunManifest } from "../domain/RunManifest.js"
import { isoAt } from "../domain/Timestamp.js"
import { RunHistory } from "../history/RunHistory.js"
import { relativeToRoot, runPaths } from "../Layout.js"
import { type LocateError, type LocatedRun, RunDirectory, type RunPlace } from "../persistence/RunDirectory.js"
import { StageProcesses } from "../persistence/StageProcesses.js"
import { Project } from "../Project.js"
import { Settings } from "../Settings.js"
import { admit, elsewhere, resumedManifest } from "./Admission.js"
import * as Heartbeat from "./Heartbeat.js"
import * as ManifestStore from "./ManifestStore.js"
import { resolvePipeline } from "./Pipelines.js"
import { Progress } from "./Progress.js"
import { type LoopEnd, RunCompletion, type RunResult } from "./RunCompletion.js"
import { newManifest, type RunContext } from "./RunContext.js"
import { Shutdown } from "./Shutdown.js"
import { type RunChild, StageRunner } from "./StageRunner.js"

export type { RunResult } from "./RunCompletion.js"

interface NewRun {
  readonly taskId: string
  readonly pipelineId?: string | undefined
  readonly parentRunId?: string | null | undefined
  readonly approvalPolicy?: string | null | undefined
}

export interface StartRequest extends NewRun {
  readonly taskId: TaskId
}

export interface ResumeRequest {
  readonly runId: string
  readonly token?: string | undefined
  readonly actor?: string | undefined
  readonly reason?: string | undefined
}

export type EngineError = ConfigError | PersistenceError | InvalidInputError | RunBusyError | HistorySchemaError

export interface RunEngineShape {
  readonly start: (request: StartRequest) => Effect.Effect<RunResult, EngineError>
  readonly resume: (request: ResumeRequest) => Effect.Effect<RunResult, EngineError | LocateError | ResumeRefusedError>
}

const noLink = () => Effect.void

export class RunEngine extends Context.Tag("codex-orchestrator/RunEngine")<RunEngine, RunEngineShape>() {
  static readonly layer: Layer.Layer<
    RunEngine,
    never,
    Settings | Project | RunDirectory | StageProcesses | StageRunner | RunCompletion | Progress | Shutdown | RunHistory
  > = Layer.effect(
    RunEngine,
    Effect.gen(function*() {
      const settings = yield* Settings
      const project = yield* Project
      const runs = yield* RunDirectory
      const processes = yield* StageProcesses
      const stages = yield* StageRunner
      const completion = yield* RunCompletion
      const progress = yield* Progress
      const shutdown = yield* Shutdown
      const history = yield* RunHistory
      const rel = (absolute: string) => relativeToRoot(settings, absolute)

      const pipelineOf = (id: string | undefined) =>
        Effect.flatMap(project.config, (config) => Either.map(resolvePipeline(config, id), (found) => found.pipeline))

      /** The files first, then the shared history, in the one writer's order (CONTRACT §4, §11). */
      const sinkFor = (place: RunPlace): ManifestStore.ManifestSink => ({
        writeManifest: (manifest, { final }) => Effect.zipRight(runs.writeManifest(place.paths, manifest, { final }), history.recorded(manifest)),
        writeHeartbeat: (iso) => Effect.zipRight(runs.writeHeartbeat(place.paths, iso), history.beat({ task_id: place.taskId, run_id: place.runId }, iso))
      })

      const runStages = (ctx: RunContext, runChild: RunChild) =>
        Effect.gen(function*() {
          const total = ctx.pipeline.stages.length
          for (const [i, stage] of ctx.pipeline.stages.entries()) {
            const info = { index: i + 1, total, id: stage.id, title: stage.title }
            const entry = (yield* ctx.store.current).commands.find((c) => c.index === info.index)
            if (entry !== undefined && isDone(entry)) continue
            const received = yield* shutdown.received
            if (Option.isSome(received)) return { _tag: "Stopped", signal: received.value } satisfies LoopEnd
            const result = stage.kind === "command" ? yield* stages.command(ctx, stage, info) : yield* stages.subpipeline(ctx, stage, info, runChild)
            if (result._tag === "Stopped") return { _tag: "Stopped", signal: result.signal } satisfies LoopEnd
            if (result._tag === "Failed") break
          }
          return { _tag: "Completed" } satisfies LoopEnd
        })

      const drive = (place: RunPlace, pipeline: Pipeline, manifest: RunManifest, reopened: boolean): Effect.Effect<RunResult, PersistenceError> =>
        Effect.scoped(Effect.gen(function*() {
          const store = yield* ManifestStore.make(manifest, sinkFor(place))
          if (reopened) yield* store.update((m) => m)
          const runnerLog = yield* Effect.cached(Scope.extend(runs.openLog(place.paths.runnerLog), yield* Effect.scope))
          const ctx: RunContext = { ...place, pipeline, approvalPolicy: manifest.approval_policy, store, runnerLog, truncation: [] }
          yield* Heartbeat.start(store)
          yield* progress.runStarted(ctx.runId, pipeline.id)
          // Beside the stages: the temp files killed writers left in the task's recent runs.
          const swept = yield* Effect.fork(runs.sweep(place.taskId))
          const result = yield* completion.finish(ctx, yield* runStages(ctx, childOf(ctx)))
          yield* Fiber.join(swept)
          return result
        }))

      const startRun = (request: NewRun, pipeline: Pipeline, link: (runId: string, manifestPath: string) => Effect.Effect<void>) =>
        Effect.scoped(Effect.gen(function*() {
          const startedMillis = yield* Clock.currentTimeMillis
          const runId = makeRunId(startedMillis, randomBytes(4))
          const place = { taskId: request.taskId, runId, paths: runPaths(settings, request.taskId, runId) }
          const manifest = newManifest({ ...request, pipeline, paths: place.paths, runId, startedAt: isoAt(startedMillis), rel })
          yield* runs.create(place, manifest)
          yield* history.recorded(manifest)
          yield* link(runId, rel(place.paths.manifest))
          return yield* drive(place, pipeline, manifest, false)
        }))

      /** Reopens a run under its own id; what a dead orchestrator left of its stage is stopped first. */
      const continueRun = (located: LocatedRun, pipeline: Pipeline, event: ResumeEvent) =>
        Effect.zipRight(
          processes.stopLeftover(located.paths, Duration.millis(DEFAULT_STOP_GRACE_MS)),
          drive({ taskId: located.taskId, runId: located.manifest.run_id, paths: located.paths }, pipeline, resumedManifest(located, pipeline, event, rel), true)
        )

      const admitNow = (located: LocatedRun, actor: string, reason: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => admit(runs, located, now, actor, reason))

      /** A sub-pipeline's child: its earlier run continued when it can be, else a new one. */
      const childOf = (parent: RunContext): RunChild => (stage, previousChild, link) =>
        Effect.gen(function*() {
          const request = { taskId: parent.taskId, pipelineId: stage.pipeline, parentRunId: parent.runId, approvalPolicy: parent.approvalPolicy }
          const pipeline = yield* pipelineOf(stage.pipeline).pipe(Effect.orDie)
          if (previousChild !== null) {
            const continued = yield* Effect.scoped(Effect.gen(function*() {
              const admitted = yield* Effect.either(Effect.gen(function*() {
                const place = yield* runs.locate(previousChild)
                yield* runs.own(place)
                const located = yield* runs.read(place)
                return { located, event: yield* admitNow(located, "codex-orchestrator", `parent run ${parent.runId} resumed`) }
              }))
              if (Either.isLeft(admitted)) {
                yield* Effect.logDebug(`child run ${previousChild} not continued (${admitted.left.message}); starting a new one`)
                return Option.none()
              }
              const { located, event } = admitted.right
              yield* link(located.manifest.run_id, rel(located.paths.manifest))
              return Option.some(yield* continueRun(located, pipeline, event))
            }))
            if (Option.isSome(continued)) return continued.value.manifest
          }
          // A new run id is never owned by anyone else.
          return (yield* startRun(request, pipeline, link).pipe(Effect.catchTag("RunBusyError", Effect.die))).manifest
        })

      const start = (request: StartRequest) =>
        Effect.gen(function*() {
          const pipeline = yield* pipelineOf(request.pipelineId)
          // The database's refusal (a newer schema) comes before anything is made on disk.
          yield* history.ready
          yield* runs.prepare(request.taskId)
          return yield* startRun(request, pipeline, noLink)
        })

      const resume = (request: ResumeRequest) =>
        Effect.gen(function*() {
          const place = yield* runs.locate(request.runId).pipe(Effect.catchTag("RunNotFoundError", (missing) => elsewhere(history, request.runId, missing)))
          yield* history.ready
          return yield* Effect.scoped(Effect.gen(function*() {
            // Ownership first: two resumes of one run can never both read it as resumable.
            yield* runs.own(place)
            const located = yield* runs.read(place)
            if (request.token !== undefined && !tokensMatch(request.token, located.manifest.resume_token)) {
              return yield* new ResumeRefusedError({ runId: request.runId, message: `resume token does not match run ${request.runId}` })
            }
            const event = yield* admitNow(located, request.actor ?? settings.env["USER"] ?? "cli", request.reason ?? "resume requested")
            return yield* continueRun(located, yield* pipelineOf(located.manifest.pipeline_id), event)
          }))
        })

      return { start, resume }
    })
  )
}

import { FileSystem } from "@effect/platform"
import { Clock, Context, Effect, Either, Layer, Option, Schema } from "effect"
import { randomBytes, timingSafeEqual, createHash } from "node:crypto"
import * as path from "node:path"
import { type ConfigError, type PersistenceError, ResumeRefusedError } from "../domain/Errors.js"
import { decodeRunId, makeRunId, type TaskId } from "../domain/Ids.js"
import type { CommandStage, Pipeline, Stage, SubpipelineStage } from "../domain/ProjectConfig.js"
import { StageErrorFile, StageErrorFileJson } from "../domain/Records.js"
import { ChildRunRef, CommandEntry, CompatPointer, isTerminal, ResumeEvent, RunManifest } from "../domain/RunManifest.js"
import { RunSummaryJson } from "../domain/RunSummary.js"
import { isoAt } from "../domain/Timestamp.js"
import { relativeToRoot, runPaths, type RunPaths, taskPaths } from "../Layout.js"
import { AtomicFile } from "../persistence/AtomicFile.js"
import { toPersistenceError } from "../persistence/PlatformFailure.js"
import { MetricsRecorder } from "../persistence/MetricsRecorder.js"
import { PersistenceCoordinator } from "../persistence/PersistenceCoordinator.js"
import { RunManifestWriter } from "../persistence/RunManifestWriter.js"
import { Settings } from "../Settings.js"
import * as Heartbeat from "./Heartbeat.js"
import * as ManifestStore from "./ManifestStore.js"
import { NdjsonLog } from "./output/NdjsonLog.js"
import { Redactor } from "./output/Redactor.js"
import { Pipelines } from "./Pipelines.js"
import { Progress } from "./Progress.js"
import { buildMetricsLine, buildRunSummary, guardrailOf, isGuardrailStage, summaryText } from "./RunReport.js"
import { type LocateError, RunLocator } from "./RunLocator.js"
import { exitCodeFor, Shutdown, type StopSignal } from "./Shutdown.js"
import { errorFileDetails, StageProcess, stageSummary, truncationLines } from "./StageProcess.js"
import { heartbeatAge } from "./Staleness.js"

/** How many of a task's latest runs the next run sweeps for temp files left by killed writers. */
const RECENT_RUNS_SWEPT = 20

export interface StartRequest {
  readonly taskId: TaskId
  readonly pipelineId?: string | undefined
  readonly parentRunId?: string | null | undefined
  readonly approvalPolicy?: string | null | undefined
}

export interface ResumeRequest {
  readonly runId: string
  readonly token?: string | undefined
  readonly actor?: string | undefined
  readonly reason?: string | undefined
}

export interface RunResult {
  readonly manifest: RunManifest
  readonly exitCode: number
}

export type EngineError = ConfigError | PersistenceError

export interface RunEngineShape {
  readonly start: (request: StartRequest) => Effect.Effect<RunResult, EngineError>
  readonly resume: (request: ResumeRequest) => Effect.Effect<RunResult, EngineError | LocateError | ResumeRefusedError>
}

/** What a stage loop ended with; a stop signal wins over everything after it. */
type LoopEnd =
  | { readonly _tag: "Completed" }
  | { readonly _tag: "Stopped"; readonly signal: StopSignal }

interface RunContext {
  readonly taskId: string
  readonly runId: string
  readonly paths: RunPaths
  readonly pipeline: Pipeline
  readonly approvalPolicy: string | null
  readonly store: ManifestStore.ManifestStore
}

export class RunEngine extends Context.Tag("codex-orchestrator/RunEngine")<RunEngine, RunEngineShape>() {
  static readonly Live = Layer.effect(
    RunEngine,
    Effect.gen(function*() {
      const settings = yield* Settings
      const fs = yield* FileSystem.FileSystem
      const atomic = yield* AtomicFile
      const manifests = yield* RunManifestWriter
      const metrics = yield* MetricsRecorder
      const coordinator = yield* PersistenceCoordinator
      const pipelines = yield* Pipelines
      const stages = yield* StageProcess
      const progress = yield* Progress
      const shutdown = yield* Shutdown
      const locator = yield* RunLocator

      const rel = (absolute: string) => relativeToRoot(settings, absolute)
      const now = Clock.currentTimeMillis

      const sinkFor = (paths: RunPaths): ManifestStore.ManifestSink => ({
        writeManifest: (manifest, { final }) => manifests.write(paths.manifest, manifest, { durable: final }),
        writeHeartbeat: (iso) => atomic.write(paths.heartbeat, `${iso}\n`, { durable: false })
      })

      /** A write the run can do without: its failure is logged and the run goes on. */
      const bestEffort = (what: string) =>
        Effect.catchAll((error: PersistenceError) => Effect.logWarning(`could not write ${what}: ${error.message}`))

      // ---- bootstrap -------------------------------------------------------------------------------

      const entriesFor = (pipeline: Pipeline, paths: RunPaths): ReadonlyArray<CommandEntry> =>
        pipeline.stages.map((stage, i) => freshEntry(stage, i + 1, paths, rel))

      const writeCompatPointers = (paths: RunPaths, createdAt: string) =>
        Effect.gen(function*() {
          const pointer = CompatPointer.make({
            redirect_to: rel(paths.artifactRoot),
            manifest: rel(paths.manifest),
            created_at: createdAt,
            note: "Generated by codex CLI for backward compatibility."
          })
          yield* atomic.write(paths.compatManifest, `${JSON.stringify(pointer, null, 2)}\n`)
          const linkDir = path.dirname(paths.localMcpManifest)
          const linkTarget = path.relative(linkDir, paths.manifest)
          yield* fs.makeDirectory(linkDir, { recursive: true }).pipe(
            Effect.zipRight(fs.symlink(linkTarget, paths.localMcpManifest)),
            Effect.catchAll(() => atomic.write(paths.localMcpManifest, `${JSON.stringify(pointer, null, 2)}\n`))
          )
        })

      const bootstrap = (request: StartRequest, pipeline: Pipeline) =>
        Effect.gen(function*() {
          const startedMillis = yield* now
          const runId = makeRunId(startedMillis, randomBytes(4))
          const paths = runPaths(settings, request.taskId, runId)
          const startedAt = isoAt(startedMillis)
          const token = randomBytes(32).toString("hex")
          const manifest = RunManifest.make({
            version: 1,
            task_id: request.taskId,
            task_slug: request.taskId,
            run_id: runId,
            parent_run_id: request.parentRunId ?? null,
            pipeline_id: pipeline.id,
            pipeline_title: pipeline.title,
            runner: "codex-cli",
            approval_policy: request.approvalPolicy ?? null,
            status: "in_progress",
            status_detail: null,
            started_at: startedAt,
            completed_at: null,
            updated_at: startedAt,
            heartbeat_at: startedAt,
            heartbeat_interval_seconds: 5,
            heartbeat_stale_after_seconds: 30,
            artifact_root: rel(paths.artifactRoot),
            compat_path: rel(paths.compatDir),
            log_path: rel(paths.runnerLog),
            summary: null,
            metrics_recorded: false,
            resume_token: token,
            resume_events: [],
            approvals: [],
            commands: entriesFor(pipeline, paths),
            child_runs: [],
            run_summary_path: null
          })
          yield* manifests.write(paths.manifest, manifest, { durable: false })
          // Once the manifest says in_progress, the run goes on: these files are conveniences (the token is
          // in the manifest too, the first heartbeat tick rewrites .heartbeat), and aborting here would
          // leave a manifest that claims a run nobody is running.
          yield* atomic.write(paths.resumeToken, `${token}\n`, { mode: 0o600 }).pipe(bestEffort(".resume-token"))
          yield* sinkFor(paths).writeHeartbeat(startedAt).pipe(bestEffort(".heartbeat"))
          yield* writeCompatPointers(paths, startedAt).pipe(bestEffort("the compatibility pointers"))
          return { manifest, paths }
        })

      // ---- stages ----------------------------------------------------------------------------------

      const setEntry = (index: number, f: (entry: CommandEntry) => CommandEntry) => (manifest: RunManifest) =>
        RunManifest.make({
          ...manifest,
          commands: manifest.commands.map((entry) => (entry.index === index ? f(entry) : entry))
        })

      /**
       * A stage's progress in the manifest. The change stays in memory when the write fails, so the next
       * write (a later stage, a heartbeat, the final flush) carries it; only the final write is fatal.
       */
      const record = (ctx: RunContext, f: (manifest: RunManifest) => RunManifest) =>
        ctx.store.update(f).pipe(
          Effect.asVoid,
          Effect.catchAll((error) => Effect.logWarning(`manifest not written, the next write will carry the change: ${error.message}`))
        )

      const runCommandStage = (ctx: RunContext, stage: CommandStage, index: number, total: number) =>
        Effect.scoped(Effect.gen(function*() {
          const startedMillis = yield* now
          const info = { index, total, id: stage.id, title: stage.title }
          const logPath = ctx.paths.commandLog(index, stage.id)
          yield* record(ctx, setEntry(index, (entry) =>
            CommandEntry.make({
              ...entry,
              command: stage.command,
              status: "running",
              started_at: isoAt(startedMillis),
              completed_at: null,
              exit_code: null,
              summary: null,
              log_path: rel(logPath),
              error_file: null
            })
          ))
          yield* progress.stageStarted(info)
          const config = yield* pipelines.config
          const redactor = yield* Redactor.make({ env: stage.env ?? {}, patterns: config.redact })
          // Logs that cannot be opened end the stage like logs that cannot be written: as a stage error.
          const run = Effect.gen(function*() {
            yield* fs.makeDirectory(ctx.paths.commandsDir, { recursive: true }).pipe(Effect.mapError(toPersistenceError("create", ctx.paths.commandsDir)))
            const stageLog = yield* Effect.provideService(NdjsonLog.open(logPath), FileSystem.FileSystem, fs)
            const runnerLog = yield* Effect.provideService(NdjsonLog.open(ctx.paths.runnerLog), FileSystem.FileSystem, fs)
            return yield* stages.run({
              index,
              command: stage.command,
              cwd: path.resolve(settings.root, stage.cwd ?? "."),
              env: stage.env ?? {},
              ...(stage.timeoutMs !== undefined ? { timeoutMs: stage.timeoutMs } : {}),
              stageLog,
              runnerLog,
              redactor
            })
          })
          const raced = yield* Effect.raceFirst(
            Effect.either(run).pipe(Effect.map((result) => ({ _tag: "Ran" as const, result }))),
            Effect.map(shutdown.requested, (signal) => ({ _tag: "Stopped" as const, signal }))
          )
          const completedMillis = yield* now
          const completedAt = isoAt(completedMillis)
          if (raced._tag === "Stopped") {
            yield* record(ctx, setEntry(index, (entry) =>
              CommandEntry.make({ ...entry, status: "failed", completed_at: completedAt, summary: `Cancelled by ${raced.signal}` })
            ))
            yield* progress.stageFinished(info, "cancelled", completedMillis - startedMillis)
            return { _tag: "Stopped" as const, signal: raced.signal }
          }
          if (raced.result._tag === "Left") {
            const message = raced.result.left.message
            yield* Effect.logWarning(`stage ${stage.id} could not run: ${message}`)
            yield* record(ctx, (manifest) =>
              RunManifest.make({
                ...setEntry(index, (entry) =>
                  CommandEntry.make({ ...entry, status: "failed", completed_at: completedAt, summary: message })
                )(manifest),
                status_detail: `stage:${stage.id}:error`
              })
            )
            yield* progress.stageFinished(info, "error", completedMillis - startedMillis)
            return { _tag: "Failed" as const, truncation: [] }
          }
          const outcome = raced.result.right
          const ok = outcome.exitCode === 0 && !outcome.timedOut
          const summary = outcome.timedOut
            ? `Timed out after ${stage.timeoutMs ?? 0} ms`
            : stageSummary(outcome, stage.summaryHint)
          let errorFile: string | null = null
          if (!ok) {
            const errorPath = ctx.paths.errorFile(index, stage.id)
            const file = StageErrorFile.make({
              run_id: ctx.runId,
              task_id: ctx.taskId,
              command_index: index,
              command_id: stage.id,
              command: redactor.mask(stage.command),
              reason: "command-failed",
              details: errorFileDetails(outcome),
              created_at: completedAt
            })
            const text = yield* Schema.encode(StageErrorFileJson)(file).pipe(Effect.orDie)
            errorFile = yield* atomic.write(errorPath, `${text}\n`, { durable: false }).pipe(
              Effect.as(rel(errorPath)),
              Effect.catchAll((error) => Effect.as(Effect.logWarning(`could not write error file: ${error.message}`), null))
            )
          }
          const status = ok ? "succeeded" : stage.allowFailure === true ? "skipped" : "failed"
          yield* record(ctx, (manifest) => {
            const next = setEntry(index, (entry) =>
              CommandEntry.make({
                ...entry,
                status,
                completed_at: completedAt,
                exit_code: outcome.exitCode,
                summary,
                error_file: errorFile
              })
            )(manifest)
            return status === "failed" ? RunManifest.make({ ...next, status_detail: `stage:${stage.id}:failed` }) : next
          })
          yield* progress.stageFinished(info, status, completedMillis - startedMillis)
          const truncation = truncationLines(stage.id, outcome)
          return status === "failed"
            ? { _tag: "Failed" as const, truncation }
            : { _tag: "Passed" as const, truncation }
        }))

      const runSubpipelineStage = (ctx: RunContext, stage: SubpipelineStage, index: number, total: number) =>
        Effect.gen(function*() {
          const startedMillis = yield* now
          const info = { index, total, id: stage.id, title: stage.title }
          yield* record(ctx, setEntry(index, (entry) =>
            CommandEntry.make({ ...entry, status: "running", started_at: isoAt(startedMillis), completed_at: null, summary: null })
          ))
          yield* progress.stageStarted(info)
          const child = yield* startRun(
            { taskId: ctx.taskId as TaskId, pipelineId: stage.pipeline, parentRunId: ctx.runId, approvalPolicy: ctx.approvalPolicy },
            (childRunId, childManifestPath) =>
              record(ctx, (manifest) =>
                RunManifest.make({
                  ...setEntry(index, (entry) => CommandEntry.make({ ...entry, sub_run_id: childRunId }))(manifest),
                  child_runs: [
                    ...manifest.child_runs.filter((c) => c.run_id !== childRunId),
                    ChildRunRef.make({ run_id: childRunId, pipeline_id: stage.pipeline, status: "in_progress", manifest: childManifestPath })
                  ]
                })
              )
          )
          const childStatus = child.manifest.status
          const completedMillis = yield* now
          const status = childStatus === "succeeded" ? "succeeded" : stage.optional === true && childStatus === "failed" ? "skipped" : "failed"
          const review = buildRunSummary(child.manifest, isoAt(completedMillis)).review.summary
          yield* record(ctx, (manifest) => {
            const next = RunManifest.make({
              ...setEntry(index, (entry) =>
                CommandEntry.make({ ...entry, status, completed_at: isoAt(completedMillis), summary: review, sub_run_id: child.manifest.run_id })
              )(manifest),
              child_runs: manifest.child_runs.map((c) =>
                c.run_id === child.manifest.run_id ? ChildRunRef.make({ ...c, status: childStatus }) : c
              )
            })
            return status === "failed" && childStatus !== "cancelled"
              ? RunManifest.make({ ...next, status_detail: `subpipeline:${stage.pipeline}:failed` })
              : next
          })
          yield* progress.stageFinished(info, childStatus === "cancelled" ? "cancelled" : status, completedMillis - startedMillis)
          if (childStatus === "cancelled") {
            const signal = child.manifest.status_detail?.replace(/^cancelled:/, "")
            return { _tag: "Stopped" as const, signal: signal === "SIGTERM" ? "SIGTERM" as const : "SIGINT" as const }
          }
          return status === "failed" ? { _tag: "Failed" as const, truncation: [] } : { _tag: "Passed" as const, truncation: [] }
        })

      const runStage = (ctx: RunContext, stage: Stage, index: number, total: number) =>
        stage.kind === "command" ? runCommandStage(ctx, stage, index, total) : runSubpipelineStage(ctx, stage, index, total)

      /** Runs every stage not already done, in order, until one fails or a stop is requested. */
      const runStages = (ctx: RunContext, truncation: Array<string>) =>
        Effect.gen(function*() {
          const total = ctx.pipeline.stages.length
          for (const [i, stage] of ctx.pipeline.stages.entries()) {
            const index = i + 1
            const current = yield* ctx.store.current
            const entry = current.commands.find((c) => c.index === index)
            if (entry !== undefined && (entry.status === "succeeded" || entry.status === "skipped")) continue
            const received = yield* shutdown.received
            if (Option.isSome(received)) return { _tag: "Stopped", signal: received.value } satisfies LoopEnd
            const result = yield* runStage(ctx, stage, index, total)
            if (result._tag === "Stopped") return { _tag: "Stopped", signal: result.signal } satisfies LoopEnd
            truncation.push(...result.truncation)
            if (result._tag === "Failed") break
          }
          return { _tag: "Completed" } satisfies LoopEnd
        })

      // ---- completion ------------------------------------------------------------------------------

      const guardrailStdout = (ctx: RunContext, manifest: RunManifest) =>
        Effect.gen(function*() {
          const guard = manifest.commands.find(isGuardrailStage)
          if (guard === undefined || guard.log_path === null) return ""
          const logPath = path.resolve(settings.root, guard.log_path)
          const text = yield* fs.readFileString(logPath).pipe(Effect.orElseSucceed(() => ""))
          return text.split("\n").flatMap((line) => {
            const match = /"type":"command:stdout","data":("(?:[^"\\]|\\.)*")/.exec(line)
            return match?.[1] === undefined ? [] : [JSON.parse(match[1]) as string]
          }).join("")
        })

      const finish = (ctx: RunContext, end: LoopEnd, truncation: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const completedAt = isoAt(yield* now)
          const before = yield* ctx.store.current
          const failed = before.commands.some((c) => c.status === "failed")
          const status = end._tag === "Stopped" ? "cancelled" as const : failed ? "failed" as const : "succeeded" as const
          const detail = end._tag === "Stopped" ? `cancelled:${end.signal}` : failed ? before.status_detail : null
          const guardrail = guardrailOf(before.commands.find(isGuardrailStage), yield* guardrailStdout(ctx, before))
          yield* ctx.store.modify((manifest) =>
            RunManifest.make({
              ...manifest,
              status,
              status_detail: detail,
              completed_at: completedAt,
              heartbeat_at: completedAt,
              run_summary_path: rel(ctx.paths.runSummary)
            })
          )
          yield* ctx.store.modify((manifest) => RunManifest.make({ ...manifest, summary: summaryText(manifest, guardrail, truncation) }))
          const settled = yield* ctx.store.current
          const runSummary = buildRunSummary(settled, completedAt)
          const summaryJson = yield* Schema.encode(RunSummaryJson)(runSummary).pipe(Effect.orDie)
          yield* atomic.write(ctx.paths.runSummary, `${summaryJson}\n`, { durable: true }).pipe(bestEffort("run-summary.json"))
          if (!settled.metrics_recorded) {
            yield* metrics.append(ctx.taskId, buildMetricsLine(settled, completedAt)).pipe(
              Effect.zipRight(ctx.store.modify((manifest) => RunManifest.make({ ...manifest, metrics_recorded: true }))),
              Effect.catchAll((error) => Effect.logWarning(`metrics not recorded: ${error.message}`))
            )
          }
          yield* sinkFor(ctx.paths).writeHeartbeat(completedAt).pipe(bestEffort(".heartbeat"))
          const completed = { taskId: ctx.taskId, runId: ctx.runId, summary: runSummary }
          // From the final manifest on, the run is over: its history must survive a kill before the snapshot.
          yield* coordinator.parkAhead(completed).pipe(
            Effect.catchAll((error) => Effect.logWarning(`could not park the run summary ahead of the snapshot: ${error.message}`))
          )
          const flushed = yield* Effect.either(ctx.store.flush)
          // The run's history is kept even when its final manifest cannot be: the run did happen.
          yield* coordinator.handleRunCompleted(completed).pipe(
            // Already logged by the coordinator together with the snapshot's outcome; once is enough.
            Effect.catchTag("PersistenceError", () => Effect.void)
          )
          if (Either.isLeft(flushed)) return yield* flushed.left
          const final = yield* ctx.store.current
          yield* progress.runFinished(ctx.runId, final.status)
          const exitCode = end._tag === "Stopped" ? exitCodeFor(end.signal) : status === "succeeded" ? 0 : 1
          return { manifest: final, exitCode } satisfies RunResult
        })

      /** The part shared by start and resume: heartbeat, stages, completion. */
      const drive = (ctx: RunContext, truncation: Array<string>) =>
        Effect.scoped(Effect.gen(function*() {
          yield* Heartbeat.start(ctx.store)
          yield* progress.runStarted(ctx.runId, ctx.pipeline.id)
          const end = yield* runStages(ctx, truncation)
          return yield* finish(ctx, end, truncation)
        }))

      /**
       * Temp files of killed writers in directories that no later run writes to (a run's own directories,
       * its pointers under mcp/ and local-mcp/, pending/) are swept by the next run of the task; the most recent runs are enough, since each
       * run sweeps after the ones before it.
       */
      const sweepAbandoned = (taskId: string) =>
        Effect.gen(function*() {
          const task = taskPaths(settings, taskId)
          const recentRuns = (dir: string) =>
            fs.readDirectory(dir).pipe(
              Effect.map((names) => names.filter((name) => Either.isRight(decodeRunId(name))).sort().slice(-RECENT_RUNS_SWEPT)),
              Effect.map((names) => names.map((name) => path.join(dir, name))),
              Effect.catchAll((error) => Effect.as(Effect.logDebug(`nothing to sweep in ${dir}: ${error.message}`), []))
            )
          const runDirs = yield* Effect.forEach(
            [path.join(task.taskRunsDir, "cli"), path.join(task.taskRunsDir, "mcp"), task.taskRunsDir, path.join(settings.runsDir, "local-mcp")],
            recentRuns
          )
          const dirs = [...runDirs.flat(), task.pendingDir]
          yield* Effect.forEach(dirs, atomic.sweep, { discard: true })
        })

      const startRun = (
        request: StartRequest,
        onBootstrapped: (runId: string, manifestPath: string) => Effect.Effect<void, PersistenceError>
      ): Effect.Effect<RunResult, EngineError> =>
        Effect.gen(function*() {
          const { pipeline } = yield* pipelines.resolve(request.pipelineId)
          const { manifest, paths } = yield* bootstrap(request, pipeline)
          yield* sweepAbandoned(request.taskId)
          yield* onBootstrapped(manifest.run_id, rel(paths.manifest))
          const store = yield* ManifestStore.make(manifest, sinkFor(paths))
          return yield* drive({
            taskId: request.taskId,
            runId: manifest.run_id,
            paths,
            pipeline,
            approvalPolicy: request.approvalPolicy ?? null,
            store
          }, [])
        })

      const resumeRun = (request: ResumeRequest) =>
        Effect.gen(function*() {
          const located = yield* locator.find(request.runId)
          const previous = located.manifest
          if (request.token !== undefined && !tokensMatch(request.token, previous.resume_token)) {
            return yield* new ResumeRefusedError({
              runId: request.runId,
              message: `resume token does not match run ${request.runId}`
            })
          }
          const nowMillis = yield* now
          const stale = heartbeatAge(previous, nowMillis, { heartbeatFileAt: located.heartbeatFileAt }).heartbeat_stale
          const actor = request.actor ?? process.env["USER"] ?? "cli"
          const reason = request.reason ?? "resume requested"
          if (!(previous.status === "failed" || previous.status === "cancelled" || stale)) {
            const why = previous.status === "in_progress"
              ? "is still in progress with a fresh heartbeat"
              : `already ${previous.status}`
            if (isTerminal(previous.status)) {
              // A finished run has no writer left, so the refusal can be put on record.
              const blocked = ResumeEvent.make({ timestamp: isoAt(nowMillis), actor, reason, outcome: "blocked", detail: `run ${why}` })
              yield* manifests.write(located.paths.manifest, RunManifest.make({
                ...previous,
                resume_events: [...previous.resume_events, blocked]
              }), { durable: true })
            }
            return yield* new ResumeRefusedError({
              runId: request.runId,
              message: `run ${request.runId} ${why}; only a failed, cancelled or stale run can be resumed`
            })
          }
          const { pipeline } = yield* pipelines.resolve(previous.pipeline_id)
          const paths = located.paths
          const commands = pipeline.stages.map((stage, i) => {
            const done = previous.commands.find((c) => c.id === stage.id && (c.status === "succeeded" || c.status === "skipped"))
            return done !== undefined ? CommandEntry.make({ ...done, index: i + 1 }) : freshEntry(stage, i + 1, paths, rel)
          })
          const accepted = ResumeEvent.make({ timestamp: isoAt(nowMillis), actor, reason, outcome: "accepted" })
          const resumed = RunManifest.make({
            ...previous,
            status: "in_progress",
            status_detail: "resuming",
            completed_at: null,
            heartbeat_at: isoAt(nowMillis),
            summary: null,
            metrics_recorded: false,
            resume_events: [...previous.resume_events, accepted],
            commands
          })
          const store = yield* ManifestStore.make(resumed, sinkFor(paths))
          yield* store.update((manifest) => manifest)
          return yield* drive({
            taskId: located.taskId,
            runId: previous.run_id,
            paths,
            pipeline,
            approvalPolicy: previous.approval_policy,
            store
          }, [])
        })

      return {
        start: (request) => startRun(request, () => Effect.void),
        resume: resumeRun
      }
    })
  )
}

const freshEntry = (stage: Stage, index: number, paths: RunPaths, rel: (absolute: string) => string): CommandEntry =>
  CommandEntry.make({
    index,
    id: stage.id,
    title: stage.title,
    command: stage.kind === "command" ? stage.command : null,
    kind: stage.kind,
    status: "pending",
    started_at: null,
    completed_at: null,
    exit_code: null,
    summary: null,
    log_path: stage.kind === "command" ? rel(paths.commandLog(index, stage.id)) : null,
    error_file: null,
    sub_run_id: null
  })

/** Constant-time comparison of a presented resume token with the run's. */
const tokensMatch = (presented: string, expected: string): boolean => {
  const digest = (value: string) => createHash("sha256").update(value.trim()).digest()
  return timingSafeEqual(digest(presented), digest(expected))
}

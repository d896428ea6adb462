import { Clock, Context, Effect, Layer } from "effect"
import * as path from "node:path"
import type { PersistenceError } from "../domain/Errors.js"
import type { CommandStage, SubpipelineStage } from "../domain/ProjectConfig.js"
import { StageErrorFile } from "../domain/Records.js"
import { Redaction } from "../domain/Redactor.js"
import { ChildRunRef, type RunManifest } from "../domain/RunManifest.js"
import { relativeToRoot } from "../Layout.js"
import { isoAt } from "../domain/Timestamp.js"
import { RunDirectory } from "../persistence/RunDirectory.js"
import { StageProcesses } from "../persistence/StageProcesses.js"
import { Settings } from "../Settings.js"
import { Progress, type StageProgress } from "./Progress.js"
import { record, recordEnd, type RunContext, setEntry, type StageResult, withFields } from "./RunContext.js"
import { buildRunSummary } from "./RunReport.js"
import { isStopSignal, Shutdown } from "./Shutdown.js"
import { StageProcess } from "./stage/StageProcess.js"
import { errorFileCommand, errorFileDetails, stageSummary, truncationLines } from "./stage/StageReport.js"

/** A child run of a sub-pipeline stage, told to link itself into the parent once it exists. */
export type RunChild = (
  stage: SubpipelineStage,
  previousChild: string | null,
  onBootstrapped: (childRunId: string, manifestPath: string) => Effect.Effect<void>
) => Effect.Effect<RunManifest, PersistenceError>

export interface StageRunnerShape {
  readonly command: (ctx: RunContext, stage: CommandStage, info: StageProgress) => Effect.Effect<StageResult>
  readonly subpipeline: (ctx: RunContext, stage: SubpipelineStage, info: StageProgress, runChild: RunChild) => Effect.Effect<StageResult, PersistenceError>
}

export class StageRunner extends Context.Tag("codex-orchestrator/StageRunner")<StageRunner, StageRunnerShape>() {
  static readonly layer: Layer.Layer<
    StageRunner,
    never,
    Settings | RunDirectory | StageProcesses | StageProcess | Progress | Shutdown | Redaction
  > = Layer.effect(
    StageRunner,
    Effect.gen(function*() {
      const settings = yield* Settings
      const runs = yield* RunDirectory
      const processes = yield* StageProcesses
      const stages = yield* StageProcess
      const progress = yield* Progress
      const shutdown = yield* Shutdown
      const redactor = yield* Redaction

      const command = (ctx: RunContext, stage: CommandStage, info: StageProgress) =>
        Effect.scoped(Effect.gen(function*() {
          const startedMillis = yield* Clock.currentTimeMillis
          const index = info.index
          yield* record(ctx, setEntry(index, {
            command: stage.command,
            status: "running",
            started_at: isoAt(startedMillis),
            completed_at: null,
            exit_code: null,
            summary: null,
            log_path: relativeToRoot(settings, ctx.paths.commandLog(index, stage.id)),
            error_file: null
          }))
          const counter = { bytes: 0 }
          yield* progress.stageRunning(info, Effect.sync(() => counter.bytes))
          const ran = yield* Effect.either(Effect.gen(function*() {
            const logs = { stageLog: yield* runs.openLog(ctx.paths.commandLog(index, stage.id)), runnerLog: yield* ctx.runnerLog }
            return yield* stages.run({
              index,
              command: stage.command,
              cwd: path.resolve(settings.root, stage.cwd ?? "."),
              env: { ...settings.env, ...stage.env },
              timeoutMs: stage.timeoutMs,
              stopGraceMs: stage.stopGraceMs,
              logs,
              redactor,
              stop: shutdown.requested,
              counter,
              // Overwritten by the next stage and removed with the run: a record of a stage that ended names a dead group.
              onSpawned: (pid) =>
                processes.record(ctx.paths, { index, id: stage.id, pid }).pipe(
                  Effect.catchAll((error) => Effect.logDebug(`could not note the stage's process group: ${error.message}`))
                )
            })
          }))
          const completedMillis = yield* Clock.currentTimeMillis
          const completed_at = isoAt(completedMillis)
          const finished = (status: string) => progress.stageFinished(info, status, completedMillis - startedMillis)

          if (ran._tag === "Left") {
            // Logs that cannot be opened or written end the stage like a command that cannot start.
            yield* Effect.logWarning(`stage ${stage.id} could not run: ${ran.left.message}`)
            yield* recordEnd(ctx, (m) => withFields(setEntry(index, { status: "failed", completed_at, summary: ran.left.message })(m), { status_detail: `stage:${stage.id}:error` }))
            yield* finished("error")
            return { _tag: "Failed" } as const
          }
          const outcome = ran.right
          if (outcome.cancelledBy !== null) {
            yield* recordEnd(ctx, setEntry(index, { status: "failed", completed_at, exit_code: outcome.exitCode, summary: `Cancelled by ${outcome.cancelledBy}` }))
            yield* finished("cancelled")
            return { _tag: "Stopped", signal: outcome.cancelledBy } as const
          }
          const ok = outcome.exitCode === 0 && !outcome.timedOut
          const summary = outcome.timedOut ? `Timed out after ${stage.timeoutMs ?? 0} ms` : stageSummary(outcome, stage.summaryHint)
          const error_file = ok ? null : yield* runs.writeErrorFile(ctx.paths, StageErrorFile.make({
            run_id: ctx.runId,
            task_id: ctx.taskId,
            command_index: index,
            command_id: stage.id,
            command: errorFileCommand(stage.command),
            reason: "command-failed",
            details: errorFileDetails(outcome),
            created_at: completed_at
          })).pipe(Effect.catchAll((error) => Effect.as(Effect.logWarning(`could not write error file: ${error.message}`), null)))
          const status = ok ? "succeeded" : stage.allowFailure ? "skipped" : "failed"
          yield* recordEnd(ctx, (m) => {
            const next = setEntry(index, { status, completed_at, exit_code: outcome.exitCode, summary, error_file })(m)
            return status === "failed" ? withFields(next, { status_detail: `stage:${stage.id}:failed` }) : next
          })
          yield* finished(status)
          ctx.truncation.push(...truncationLines(stage.id, outcome))
          return status === "failed" ? { _tag: "Failed" } as const : { _tag: "Passed" } as const
        }))

      const subpipeline = (ctx: RunContext, stage: SubpipelineStage, info: StageProgress, runChild: RunChild) =>
        Effect.gen(function*() {
          const startedMillis = yield* Clock.currentTimeMillis
          const previous = (yield* ctx.store.current).commands.find((c) => c.index === info.index)?.sub_run_id ?? null
          yield* record(ctx, setEntry(info.index, { status: "running", started_at: isoAt(startedMillis), completed_at: null, summary: null }))
          yield* progress.stageRunning(info, Effect.succeed(0)).pipe(Effect.scoped)
          // The parent links its child as soon as the child's directory exists; one entry per sub-pipeline stage.
          const link = (childRunId: string, manifestPath: string) =>
            record(ctx, (m) =>
              withFields(setEntry(info.index, { sub_run_id: childRunId })(m), {
                child_runs: [
                  ...m.child_runs.filter((c) => c.run_id !== childRunId && c.run_id !== previous),
                  ChildRunRef.make({ run_id: childRunId, pipeline_id: stage.pipeline, status: "in_progress", manifest: manifestPath })
                ]
              }))
          const child = yield* runChild(stage, previous, link)
          const completedMillis = yield* Clock.currentTimeMillis
          const childStatus = child.status
          const status = childStatus === "succeeded" ? "succeeded" : stage.optional && childStatus === "failed" ? "skipped" : "failed"
          const summary = buildRunSummary(child, isoAt(completedMillis)).review.summary
          yield* record(ctx, (m) =>
            withFields(setEntry(info.index, { status, completed_at: isoAt(completedMillis), summary, sub_run_id: child.run_id })(m), {
              child_runs: m.child_runs.map((c) => (c.run_id === child.run_id ? ChildRunRef.make({ ...c, status: childStatus }) : c)),
              ...(status === "failed" && childStatus !== "cancelled" ? { status_detail: `subpipeline:${stage.pipeline}:failed` } : {})
            }))
          yield* progress.stageFinished(info, childStatus === "cancelled" ? "cancelled" : status, completedMillis - startedMillis)
          if (childStatus === "cancelled") {
            const signal = child.status_detail?.replace(/^cancelled:/, "")
            return { _tag: "Stopped", signal: isStopSignal(signal) ? signal : "SIGINT" } as const
          }
          return status === "failed" ? { _tag: "Failed" } as const : { _tag: "Passed" } as const
        })

      return { command, subpipeline }
    })
  )
}

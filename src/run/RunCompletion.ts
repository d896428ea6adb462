import { Clock, Context, Effect, Either, Layer } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import type { RunManifest } from "../domain/RunManifest.js"
import { isoAt } from "../domain/Timestamp.js"
import { relativeToRoot } from "../Layout.js"
import { RunHistory } from "../history/RunHistory.js"
import { MetricsRecorder } from "../persistence/MetricsRecorder.js"
import { PersistenceCoordinator } from "../persistence/PersistenceCoordinator.js"
import { RunDirectory } from "../persistence/RunDirectory.js"
import { StageProcesses } from "../persistence/StageProcesses.js"
import { Project } from "../Project.js"
import { Settings } from "../Settings.js"
import { Progress } from "./Progress.js"
import type { RunContext } from "./RunContext.js"
import { withFields } from "./RunContext.js"
import { buildMetricsLine, buildRunSummary, guardrailOf, isGuardrailStage, SPEC_GUARD_SCRIPT, summaryText } from "./RunReport.js"
import { exitCodeFor, type StopSignal } from "./Shutdown.js"

/** A stop signal wins over everything after it. */
export type LoopEnd = { readonly _tag: "Completed" } | { readonly _tag: "Stopped"; readonly signal: StopSignal }

export interface RunResult {
  readonly manifest: RunManifest
  readonly exitCode: number
}

export interface RunCompletionShape {
  /** CONTRACT §3, §6–§8. Fails only when the final manifest cannot be written. */
  readonly finish: (ctx: RunContext, end: LoopEnd) => Effect.Effect<RunResult, PersistenceError>
}

export class RunCompletion extends Context.Tag("codex-orchestrator/RunCompletion")<RunCompletion, RunCompletionShape>() {
  static readonly layer: Layer.Layer<
    RunCompletion,
    never,
    Settings | Project | RunDirectory | MetricsRecorder | PersistenceCoordinator | Progress | RunHistory | StageProcesses
  > = Layer.effect(
    RunCompletion,
    Effect.gen(function*() {
      const settings = yield* Settings
      const project = yield* Project
      const runs = yield* RunDirectory
      const metrics = yield* MetricsRecorder
      const coordinator = yield* PersistenceCoordinator
      const progress = yield* Progress
      const history = yield* RunHistory
      const processes = yield* StageProcesses

      const finish = Effect.fn("RunCompletion.finish")(function*(ctx: RunContext, end: LoopEnd) {
        const completedAt = isoAt(yield* Clock.currentTimeMillis)
        const before = yield* ctx.store.current
        const failed = before.commands.some((c) => c.status === "failed")
        const status = end._tag === "Stopped" ? "cancelled" : failed ? "failed" : "succeeded"
        const guard = before.commands.find(isGuardrailStage)
        const guardrail = guardrailOf(guard, guard?.log_path == null ? "" : yield* runs.stageStdout(guard.log_path))
        const hasSpecGuard = yield* project.has(SPEC_GUARD_SCRIPT)
        yield* ctx.store.modify((m) => {
          const ended = withFields(m, {
            status,
            status_detail: end._tag === "Stopped" ? `cancelled:${end.signal}` : failed ? m.status_detail : null,
            completed_at: completedAt,
            heartbeat_at: completedAt,
            run_summary_path: relativeToRoot(settings, ctx.paths.runSummary)
          })
          return withFields(ended, { summary: summaryText(ended, guardrail, ctx.truncation, hasSpecGuard) })
        })
        const settled = yield* ctx.store.current
        const summary = buildRunSummary(settled, completedAt)
        const line = settled.metrics_recorded ? null : buildMetricsLine(settled, completedAt)
        const completed = { taskId: ctx.taskId, runId: ctx.runId, summary }
        // All before the final manifest, which names the run summary and says whether metrics were recorded;
        // the history is parked ahead of it, so it survives a kill before the snapshot.
        yield* Effect.all([
          runs.writeRunSummary(ctx.paths, summary).pipe(Effect.catchAll((error) => Effect.logWarning(`could not write run-summary.json: ${error.message}`))),
          line === null ? Effect.void : metrics.append(ctx.taskId, line).pipe(
            Effect.zipRight(ctx.store.modify((m) => withFields(m, { metrics_recorded: true }))),
            Effect.catchAll((error) => Effect.logWarning(`metrics not recorded: ${error.message}`))
          ),
          processes.clear(ctx.paths).pipe(Effect.catchAll((error) => Effect.logDebug(error.message))),
          runs.writeHeartbeat(ctx.paths, completedAt).pipe(Effect.catchAll((error) => Effect.logWarning(`could not write .heartbeat: ${error.message}`))),
          coordinator.parkAhead(completed).pipe(
            Effect.catchAll((error) => Effect.logWarning(`could not park the run summary ahead of the snapshot: ${error.message}`))
          )
        ], { concurrency: "unbounded", discard: true })
        const flushed = yield* Effect.either(ctx.store.flush)
        const final = yield* ctx.store.current
        // Handed to the shared history's writer first, so its transaction overlaps the snapshot's.
        yield* history.ended(final, summary, line)
        // Kept even when the final manifest cannot be: the run did happen. The coordinator logged the outcome.
        yield* coordinator.handleRunCompleted(completed).pipe(Effect.ignore)
        if (Either.isLeft(flushed)) return yield* flushed.left
        yield* progress.runFinished(ctx.runId, final.status)
        return { manifest: final, exitCode: end._tag === "Stopped" ? exitCodeFor(end.signal) : status === "succeeded" ? 0 : 1 }
      })

      return { finish }
    })
  )
}

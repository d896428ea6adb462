import { Context, Effect, Either, Layer, Schema } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { Redaction } from "../domain/Redactor.js"
import { RunSummary, RunSummaryJson } from "../domain/RunSummary.js"
import { runPaths, taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { AtomicFile } from "./AtomicFile.js"
import { ParkedSummaries } from "./ParkedSummaries.js"
import { type RecordError, TaskStateStore } from "./TaskStateStore.js"

export interface RunCompleted {
  readonly taskId: string
  readonly runId: string
  readonly summary: RunSummary
}

export interface CoordinatorOutcome {
  /** `parked`: the summary waits in `OUT/TASK/pending/` for the next lock holder to merge it. */
  readonly snapshot: "recorded" | "parked" | "failed"
  readonly detail: string
}

export interface PersistenceCoordinatorShape {
  // Manifest and snapshot independently (CONTRACT §8): a run the snapshot cannot take now is parked, not
  // lost. Fails only when the manifest could not be written; the outcome is logged here, once.
  readonly handleRunCompleted: (run: RunCompleted) => Effect.Effect<CoordinatorOutcome, PersistenceError>
  /** Before the final manifest: a process killed before `handleRunCompleted` still leaves its history to merge. */
  readonly parkAhead: (run: RunCompleted) => Effect.Effect<void, PersistenceError>
}

const encodeSummary = Schema.encodeSync(RunSummaryJson)
const encodeValue = Schema.encodeSync(RunSummary)
const decodeValue = Schema.decodeUnknownSync(RunSummary)

export class PersistenceCoordinator extends Context.Tag("codex-orchestrator/PersistenceCoordinator")<
  PersistenceCoordinator,
  PersistenceCoordinatorShape
>() {
  static readonly layer: Layer.Layer<
    PersistenceCoordinator,
    never,
    Settings | AtomicFile | TaskStateStore | ParkedSummaries | Redaction
  > = Layer.effect(
    PersistenceCoordinator,
    Effect.gen(function*() {
      const settings = yield* Settings
      const atomic = yield* AtomicFile
      const store = yield* TaskStateStore
      const parked = yield* ParkedSummaries
      const redactor = yield* Redaction

      /** Everything this coordinator writes of a run goes through the run's one masker first. */
      const masked = (run: RunCompleted): RunCompleted =>
        redactor.isEmpty ? run : { ...run, summary: decodeValue(redactor.maskJson(encodeValue(run.summary))) }

      const park = (run: RunCompleted, why: string) =>
        parked.park(run.taskId, run.summary, { durable: true }).pipe(
          Effect.map((file): CoordinatorOutcome => ({ snapshot: "parked", detail: `${why}; summary parked at ${file} for the next run to merge` })),
          Effect.tap((outcome) => Effect.logWarning(`run ${run.runId}: ${outcome.detail}`)),
          Effect.catchAll((error) => {
            const outcome: CoordinatorOutcome = { snapshot: "failed", detail: `${why}; parking failed too: ${error.message}` }
            return Effect.as(Effect.logError(`run ${run.runId}: ${outcome.detail}`), outcome)
          })
        )

      const snapshot = (run: RunCompleted): Effect.Effect<CoordinatorOutcome> =>
        store.recordRun(run.taskId, run.summary).pipe(
          Effect.as<CoordinatorOutcome>({ snapshot: "recorded", detail: `recorded in ${taskPaths(settings, run.taskId).state}` }),
          Effect.catchAll((error: RecordError) =>
            error._tag === "TaskStateStoreLockError"
              ? park(run, `the task state lock stayed held through ${error.attempts} attempts`)
              : Effect.map(park(run, `the snapshot could not be written: ${error.message}`), (parked) =>
                ({ snapshot: "failed", detail: parked.detail }) satisfies CoordinatorOutcome)
          )
        )

      const handleRunCompleted = Effect.fn("PersistenceCoordinator.handleRunCompleted")(function*(completed: RunCompleted) {
        const run = masked(completed)
        const manifestPath = runPaths(settings, run.taskId, run.runId).summaryManifest
        // One after the other: while this process holds the task lock, every other process recording a
        // run of the task waits, so the hold gets this process's CPU to itself.
        const manifest = yield* Effect.either(atomic.write(manifestPath, `${encodeSummary(run.summary)}\n`, { durable: true }))
        const outcome = yield* snapshot(run)
        if (Either.isLeft(manifest)) {
          yield* Effect.logWarning(`run ${run.runId}: summary manifest not written (${manifest.left.message}); snapshot ${outcome.snapshot}`)
          return yield* manifest.left
        }
        return outcome
      })

      const parkAhead = Effect.fn("PersistenceCoordinator.parkAhead")(function*(completed: RunCompleted) {
        const run = masked(completed)
        yield* parked.park(run.taskId, run.summary, { durable: true })
      })

      return { handleRunCompleted, parkAhead }
    })
  )
}

import { Context, Effect, Either, Layer, Schema } from "effect"
import type { CorruptFileError, PersistenceError, TaskStateStoreLockError } from "../domain/Errors.js"
import { type RunSummary, RunSummaryJson } from "../domain/RunSummary.js"
import { runPaths, taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { AtomicFile } from "./AtomicFile.js"
import { TaskStateStore } from "./TaskStateStore.js"

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
  /**
   * Writes the run-summary manifest and the task state snapshot independently (CONTRACT §8): the manifest
   * is written whatever happens to the snapshot, and a run the snapshot cannot take now is parked, not lost.
   * Fails only when the manifest itself could not be written.
   */
  readonly handleRunCompleted: (run: RunCompleted) => Effect.Effect<CoordinatorOutcome, PersistenceError>
  /**
   * Parks the summary durably in `OUT/TASK/pending/` before the run's final manifest is written, so a
   * process killed between that write and `handleRunCompleted` still leaves its history for the next
   * `recordRun` to merge (it removes the file once merged).
   */
  readonly parkAhead: (run: RunCompleted) => Effect.Effect<void, PersistenceError>
}

const encodeSummary = Schema.encodeSync(RunSummaryJson)

export class PersistenceCoordinator extends Context.Tag("codex-orchestrator/PersistenceCoordinator")<
  PersistenceCoordinator,
  PersistenceCoordinatorShape
>() {
  static readonly Live: Layer.Layer<PersistenceCoordinator, never, Settings | AtomicFile | TaskStateStore> = Layer.effect(
    PersistenceCoordinator,
    Effect.gen(function*() {
      const settings = yield* Settings
      const atomic = yield* AtomicFile
      const store = yield* TaskStateStore

      const parkedFile = (run: RunCompleted) => `${taskPaths(settings, run.taskId).pendingDir}/${run.runId}.json`

      const park = (run: RunCompleted, text: string, why: string) => {
        const file = parkedFile(run)
        return atomic.write(file, text, { durable: true }).pipe(
          Effect.as<CoordinatorOutcome>({ snapshot: "parked", detail: `${why}; summary parked at ${file} for the next recordRun to merge` }),
          Effect.tap((outcome) => Effect.logWarning(`run ${run.runId}: ${outcome.detail}`)),
          Effect.catchAll((error) => {
            const outcome: CoordinatorOutcome = { snapshot: "failed", detail: `${why}; parking failed too: ${error.message}` }
            return Effect.as(Effect.logError(`run ${run.runId}: ${outcome.detail}`), outcome)
          })
        )
      }

      const snapshot = (run: RunCompleted, text: string): Effect.Effect<CoordinatorOutcome> =>
        store.recordRun(run.taskId, run.summary).pipe(
          Effect.as<CoordinatorOutcome>({ snapshot: "recorded", detail: `recorded in ${taskPaths(settings, run.taskId).state}` }),
          Effect.catchAll((error: TaskStateStoreLockError | PersistenceError | CorruptFileError) =>
            error._tag === "TaskStateStoreLockError"
              ? park(run, text, `the task state lock stayed held through ${error.attempts} attempts`)
              : Effect.map(park(run, text, `the snapshot could not be written: ${error.message}`), (parked) =>
                ({ snapshot: "failed", detail: parked.detail }) satisfies CoordinatorOutcome)
          )
        )

      const handleRunCompleted = Effect.fn("PersistenceCoordinator.handleRunCompleted")(function*(run: RunCompleted) {
        const text = `${encodeSummary(run.summary)}\n`
        const manifestPath = runPaths(settings, run.taskId, run.runId).summaryManifest
        // One after the other, not side by side: while this process holds the task lock, every other
        // process recording a run of the task waits, so the hold gets this process's CPU to itself.
        const manifest = yield* Effect.either(atomic.write(manifestPath, text, { durable: true }))
        const outcome = yield* snapshot(run, text)
        if (Either.isLeft(manifest)) {
          yield* Effect.logWarning(`run ${run.runId}: summary manifest not written (${manifest.left.message}); snapshot ${outcome.snapshot}`)
          return yield* manifest.left
        }
        return outcome
      })

      const parkAhead = Effect.fn("PersistenceCoordinator.parkAhead")(function*(run: RunCompleted) {
        yield* atomic.write(parkedFile(run), `${encodeSummary(run.summary)}\n`, { durable: true })
      })

      return { handleRunCompleted, parkAhead }
    })
  )
}

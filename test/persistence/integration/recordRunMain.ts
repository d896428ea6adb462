/**
 * One OS process recording one run through the real persistence stack, for the contention test:
 *   node record-run.mjs <root> <taskId> <n>
 * Prints the coordinator outcome as one JSON line on stdout.
 */
import { Effect, Logger, LogLevel } from "effect"
import { PersistenceCoordinator } from "../../../src/persistence/PersistenceCoordinator.js"
import { Settings } from "../../../src/Settings.js"
import { livePersistence } from "./livePersistence.js"
import { sampleSummary } from "../../support/PersistenceTestLayers.js"

const [root, taskId, n] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const summary = sampleSummary(taskId!, Number(n))
  const outcome = yield* (yield* PersistenceCoordinator).handleRunCompleted({ taskId: taskId!, runId: summary.runId, summary })
  process.stdout.write(`${JSON.stringify({ runId: summary.runId, ...outcome })}\n`)
})

Effect.runPromise(
  program.pipe(
    Effect.provide(livePersistence(Settings.make(root!))),
    Logger.withMinimumLogLevel(LogLevel.Error)
  )
).catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})

import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Either, Layer } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { taskIdProblem } from "../domain/Ids.js"
import { PendingHistory as Pending, PendingHistoryJson } from "../domain/Records.js"
import { taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import type { AtomicFile } from "./AtomicFile.js"
import { parkedFiles } from "./ParkedFiles.js"
import { recoverNotFound, toPersistenceError } from "./PlatformFailure.js"

export interface Parked {
  readonly file: string
  readonly record: Pending
}

export interface PendingHistoryShape {
  /** Writes `OUT/TASK/pending-history/RUN.json` atomically, replacing what was parked for the run. */
  readonly park: (record: Pending) => Effect.Effect<void, PersistenceError>
  /** Every run parked for the shared history, of every task; a file that does not decode is left alone. */
  readonly list: Effect.Effect<ReadonlyArray<Parked>, PersistenceError>
  readonly remove: (taskId: string, runId: string) => Effect.Effect<void, PersistenceError>
}

/** What the shared history has not taken yet, kept beside each task's snapshot until a command pushes it. */
export class PendingHistory extends Context.Tag("codex-orchestrator/PendingHistory")<PendingHistory, PendingHistoryShape>() {
  static readonly layer: Layer.Layer<PendingHistory, never, FileSystem.FileSystem | Path.Path | Settings | AtomicFile> = Layer.effect(
    PendingHistory,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const settings = yield* Settings
      const files = yield* parkedFiles(PendingHistoryJson)
      const fileOf = (taskId: string, runId: string) => path.join(taskPaths(settings, taskId).pendingHistoryDir, `${runId}.json`)

      const list = Effect.gen(function*() {
        const tasks = yield* recoverNotFound(fs.readDirectory(settings.outDir), () => []).pipe(Effect.mapError(toPersistenceError("list", settings.outDir)))
        const found: Array<Parked> = []
        for (const task of tasks.filter((name) => taskIdProblem(name) === undefined)) {
          for (const { file, record } of yield* files.list(taskPaths(settings, task).pendingHistoryDir)) {
            if (Either.isRight(record)) found.push({ file, record: record.right })
            else yield* Effect.logWarning(`${file} is not a parked history record; left where it is`)
          }
        }
        return found
      })

      return {
        park: (record) => files.write(fileOf(record.task_id, record.run_id), record, { durable: false }),
        list,
        remove: (taskId, runId) => files.remove([fileOf(taskId, runId)])
      }
    })
  )
}

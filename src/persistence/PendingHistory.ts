import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Either, Layer, Schema } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { taskIdProblem } from "../domain/Ids.js"
import { PendingHistory as Pending, PendingHistoryJson } from "../domain/Records.js"
import { taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { AtomicFile } from "./AtomicFile.js"
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

const encode = Schema.encodeSync(PendingHistoryJson)
const decode = Schema.decodeUnknownEither(PendingHistoryJson)

/** What the shared history has not taken yet, kept beside each task's snapshot until a command pushes it. */
export class PendingHistory extends Context.Tag("codex-orchestrator/PendingHistory")<PendingHistory, PendingHistoryShape>() {
  static readonly layer: Layer.Layer<PendingHistory, never, FileSystem.FileSystem | Path.Path | Settings | AtomicFile> = Layer.effect(
    PendingHistory,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const settings = yield* Settings
      const atomic = yield* AtomicFile
      const fileOf = (taskId: string, runId: string) => path.join(taskPaths(settings, taskId).pendingHistoryDir, `${runId}.json`)
      const names = (dir: string) => recoverNotFound(fs.readDirectory(dir), () => []).pipe(Effect.mapError(toPersistenceError("list", dir)))

      const list = Effect.gen(function*() {
        const found: Array<Parked> = []
        for (const task of (yield* names(settings.outDir)).filter((name) => taskIdProblem(name) === undefined)) {
          const dir = taskPaths(settings, task).pendingHistoryDir
          for (const name of (yield* names(dir)).filter((n) => n.endsWith(".json") && !n.startsWith(".")).sort()) {
            const file = path.join(dir, name)
            const text = yield* recoverNotFound(fs.readFileString(file), () => "").pipe(Effect.mapError(toPersistenceError("read", file)))
            const record = decode(text)
            if (Either.isRight(record)) found.push({ file, record: record.right })
            else if (text !== "") yield* Effect.logWarning(`${file} is not a parked history record; left where it is`)
          }
        }
        return found
      })

      return {
        park: (record) => atomic.write(fileOf(record.task_id, record.run_id), `${encode(record)}\n`),
        list,
        remove: (taskId, runId) => {
          const file = fileOf(taskId, runId)
          return fs.remove(file, { force: true }).pipe(Effect.mapError(toPersistenceError("remove", file)))
        }
      }
    })
  )
}

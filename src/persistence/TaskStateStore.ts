import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Deferred, Effect, Either, Layer, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { CorruptFileError, type PersistenceError, type TaskStateStoreLockError } from "../domain/Errors.js"
import { preserveUnknown, RunSummary, RunSummaryJson, TaskStateSnapshot } from "../domain/RunSummary.js"
import { nowIso } from "../domain/Timestamp.js"
import { taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { AtomicFile } from "./AtomicFile.js"
import { recoverNotFound, toPersistenceError } from "./PlatformFailure.js"
import { TaskLock } from "./TaskLock.js"

export interface TaskStateStoreShape {
  /** Merges `summary` and every parked summary into `OUT/TASK/state.json` under the task lock (CONTRACT §6, §8). */
  readonly recordRun: (
    taskId: string,
    summary: RunSummary
  ) => Effect.Effect<void, TaskStateStoreLockError | PersistenceError | CorruptFileError>
  readonly read: (taskId: string) => Effect.Effect<TaskStateSnapshot | null, PersistenceError | CorruptFileError>
}

/**
 * The snapshot as a plain struct rather than the class, so that top-level fields written by other tools
 * are carried through a rewrite along with the unknown fields of each run.
 */
const SnapshotFile = Schema.parseJson(Schema.Struct(TaskStateSnapshot.fields), { space: 2 })
type SnapshotFile = typeof SnapshotFile.Type
const decodeSnapshot = Schema.decodeUnknownEither(SnapshotFile, preserveUnknown)
const encodeSnapshot = Schema.encodeSync(SnapshotFile, preserveUnknown)
const decodeSummary = Schema.decodeUnknownEither(RunSummaryJson, preserveUnknown)

type RecordError = TaskStateStoreLockError | PersistenceError | CorruptFileError

/** One entry per run id, the later record of a run replacing the earlier; ordered by timestamp. */
export const mergeRuns = (...batches: ReadonlyArray<ReadonlyArray<RunSummary>>): ReadonlyArray<RunSummary> => {
  const byRunId = new Map<string, RunSummary>()
  for (const batch of batches) for (const run of batch) byRunId.set(run.runId, run)
  return [...byRunId.values()].sort((a, b) =>
    a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0
  )
}

export class TaskStateStore extends Context.Tag("codex-orchestrator/TaskStateStore")<TaskStateStore, TaskStateStoreShape>() {
  static readonly Live: Layer.Layer<
    TaskStateStore,
    never,
    FileSystem.FileSystem | Path.Path | Settings | AtomicFile | TaskLock
  > = Layer.scoped(
    TaskStateStore,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const settings = yield* Settings
      const atomic = yield* AtomicFile
      const lock = yield* TaskLock

      const readText = (file: string) =>
        recoverNotFound(fs.readFileString(file), () => null).pipe(Effect.mapError(toPersistenceError("read", file)))

      /** Renames a file that does not decode to a fresh name beside it; it is evidence, never overwritten. */
      const moveAside = (file: string, problem: string) =>
        Effect.gen(function*() {
          const stamp = (yield* nowIso).replace(/[:.]/g, "-")
          const aside = `${file}.corrupt-${stamp}-${randomBytes(3).toString("hex")}`
          yield* fs.rename(file, aside).pipe(
            Effect.mapError(() =>
              new CorruptFileError({ path: file, movedTo: null, message: `${file} does not parse (${problem}) and could not be moved aside; left untouched` })
            )
          )
          yield* Effect.logWarning(`${file} does not parse (${problem}); kept as ${aside} and started afresh`)
          return aside
        })

      const readSnapshotForUpdate = (file: string) =>
        Effect.gen(function*() {
          const text = yield* readText(file)
          if (text === null) return null
          const decoded = decodeSnapshot(text)
          if (Either.isRight(decoded)) return decoded.right
          yield* moveAside(file, firstLine(decoded.left.message))
          return null
        })

      const readParked = (pendingDir: string) =>
        Effect.gen(function*() {
          const names = yield* recoverNotFound(fs.readDirectory(pendingDir), () => []).pipe(
            Effect.mapError(toPersistenceError("list", pendingDir))
          )
          const parked = names.filter((name) => name.endsWith(".json") && !name.startsWith(".")).sort()
          return yield* Effect.forEach(parked, (name) =>
            Effect.gen(function*() {
              const file = path.join(pendingDir, name)
              const text = yield* readText(file)
              if (text === null) return []
              const decoded = decodeSummary(text)
              if (Either.isRight(decoded)) return [{ file, summary: decoded.right }]
              yield* moveAside(file, firstLine(decoded.left.message))
              return []
            })).pipe(Effect.map((batches) => batches.flat()))
        })

      /** Merges a batch of summaries under one hold of the lock: read, merge with parked, write, unpark. */
      const recordBatch = (taskId: string, summaries: ReadonlyArray<RunSummary>) => {
        const paths = taskPaths(settings, taskId)
        return Effect.scoped(
          Effect.gen(function*() {
            yield* lock.acquire(taskId)
            const current = yield* readSnapshotForUpdate(paths.state)
            const parked = yield* readParked(paths.pendingDir)
            const runs = mergeRuns(current?.runs ?? [], parked.map((entry) => entry.summary), summaries)
            const next: SnapshotFile = {
              ...current,
              taskId: current?.taskId ?? taskId,
              lastRunAt: runs.at(-1)?.timestamp ?? null,
              runs
            }
            yield* atomic.write(paths.state, `${encodeSnapshot(next)}\n`, { durable: true })
            yield* Effect.forEach(parked, ({ file }) =>
              fs.remove(file, { force: true }).pipe(Effect.mapError(toPersistenceError("remove", file))), { discard: true })
            if (parked.length > 0) {
              yield* Effect.logInfo(`task ${taskId}: merged ${parked.length} parked run summaries into ${paths.state}`)
            }
          })
        )
      }

      /**
       * Group commit: fibers of this process that record runs of a task while a write for it is under way
       * join the next batch instead of competing for the file lock with backoff, so in-process writers
       * cost one lock hold per batch. The batch runs in the layer's scope, not in any caller's fiber.
       */
      type Waiter = { readonly summary: RunSummary; readonly done: Deferred.Deferred<void, RecordError> }
      const queues = new Map<string, Array<Waiter>>()
      const layerScope = yield* Effect.scope

      const drain = (taskId: string): Effect.Effect<void> =>
        Effect.gen(function*() {
          for (;;) {
            const batch = queues.get(taskId)?.splice(0) ?? []
            if (batch.length === 0) {
              queues.delete(taskId)
              return
            }
            const exit = yield* Effect.exit(recordBatch(taskId, batch.map((waiter) => waiter.summary)))
            yield* Effect.forEach(batch, (waiter) => Deferred.done(waiter.done, exit), { discard: true })
          }
        }).pipe(
          Effect.onInterrupt(() =>
            Effect.forEach(queues.get(taskId)?.splice(0) ?? [], (waiter) => Deferred.interrupt(waiter.done), { discard: true }))
        )

      const recordRun = Effect.fn("TaskStateStore.recordRun")(function*(taskId: string, summary: RunSummary) {
        const done = yield* Deferred.make<void, RecordError>()
        const queue = queues.get(taskId)
        if (queue === undefined) {
          queues.set(taskId, [{ summary, done }])
          yield* Effect.forkIn(drain(taskId), layerScope)
        } else {
          queue.push({ summary, done })
        }
        yield* Deferred.await(done)
      })

      const read = Effect.fn("TaskStateStore.read")(function*(taskId: string) {
        const file = taskPaths(settings, taskId).state
        const text = yield* readText(file)
        if (text === null) return null
        const decoded = decodeSnapshot(text)
        if (Either.isLeft(decoded)) {
          return yield* new CorruptFileError({ path: file, movedTo: null, message: `${file} does not parse: ${firstLine(decoded.left.message)}` })
        }
        const { lastRunAt, runs } = decoded.right
        return TaskStateSnapshot.make({ taskId: decoded.right.taskId, lastRunAt, runs })
      })

      return { recordRun, read }
    })
  )
}

const firstLine = (text: string): string => text.split("\n")[0] ?? text

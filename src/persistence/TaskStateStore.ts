import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Deferred, Duration, Effect, Either, Fiber, Layer, Option, Queue, Schedule, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { CorruptFileError, type PersistenceError, type TaskStateStoreLockError } from "../domain/Errors.js"
import { preserveUnknown, RunSummary, TaskStateSnapshot } from "../domain/RunSummary.js"
import { nowIso } from "../domain/Timestamp.js"
import { taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { AtomicFile } from "./AtomicFile.js"
import { ParkedSummaries } from "./ParkedSummaries.js"
import { recoverNotFound, toPersistenceError } from "./PlatformFailure.js"
import { TaskLock } from "./TaskLock.js"

export type RecordError = TaskStateStoreLockError | PersistenceError | CorruptFileError

export interface TaskStateStoreShape {
  /** Merges `summary` and every parked summary into `OUT/TASK/state.json` under the task lock (CONTRACT §6, §8). */
  readonly recordRun: (taskId: string, summary: RunSummary) => Effect.Effect<void, RecordError>
  readonly read: (taskId: string) => Effect.Effect<TaskStateSnapshot | null, PersistenceError | CorruptFileError>
}

// Runs stay the JSON found on disk, so another tool's entry survives a rewrite byte for byte; only id
// and timestamp are checked, so a rewrite costs the same however long the history is.
const SnapshotEnvelope = Schema.parseJson(
  Schema.Struct({ taskId: Schema.String, lastRunAt: Schema.NullOr(Schema.String), runs: Schema.Array(Schema.Unknown) }),
  { space: 2 }
)
const decodeEnvelope = Schema.decodeUnknownEither(SnapshotEnvelope, preserveUnknown)
const encodeEnvelope = Schema.encodeSync(SnapshotEnvelope, preserveUnknown)
const decodeKeys = Schema.decodeUnknownEither(Schema.Struct({ runId: Schema.String, timestamp: Schema.String }))
const encodeRun = Schema.encodeSync(RunSummary, preserveUnknown)
const decodeSnapshot = Schema.decodeUnknownEither(Schema.parseJson(Schema.Struct(TaskStateSnapshot.fields)), preserveUnknown)

const MERGED_POLL = Duration.millis(50)
/** A free lock is taken within a few milliseconds; only a writer still waiting after this parks ahead. */
const PARK_AHEAD_AFTER = Duration.millis(20)

interface Entry {
  readonly runId: string
  readonly timestamp: string
  readonly json: unknown
}

const entryOf = (summary: RunSummary): Entry => ({ runId: summary.runId, timestamp: summary.timestamp, json: encodeRun(summary) })

/** One entry per run id, the later batch replacing the earlier; ordered by timestamp, then run id. */
const mergeEntries = (...batches: ReadonlyArray<ReadonlyArray<Entry>>): ReadonlyArray<Entry> => {
  const byRunId = new Map<string, Entry>()
  for (const batch of batches) for (const entry of batch) byRunId.set(entry.runId, entry)
  return [...byRunId.values()].sort((a, b) =>
    a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0
  )
}

const parseSnapshot = (text: string) =>
  Either.flatMap(Either.mapLeft(decodeEnvelope(text), (error) => error.message), ({ runs, ...fields }) => {
    const entries: Array<Entry> = []
    for (const [i, json] of runs.entries()) {
      const keys = decodeKeys(json)
      if (Either.isLeft(keys)) return Either.left(`run ${i + 1}: ${keys.left.message}`)
      entries.push({ ...keys.right, json })
    }
    return Either.right({ fields, entries })
  })

const firstLine = (text: string): string => text.split("\n")[0] ?? text

interface Waiter {
  readonly summary: RunSummary
  readonly done: Deferred.Deferred<void, RecordError>
}

export class TaskStateStore extends Context.Tag("codex-orchestrator/TaskStateStore")<TaskStateStore, TaskStateStoreShape>() {
  static readonly layer: Layer.Layer<
    TaskStateStore,
    never,
    FileSystem.FileSystem | Settings | AtomicFile | TaskLock | ParkedSummaries
  > = Layer.scoped(
    TaskStateStore,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const settings = yield* Settings
      const atomic = yield* AtomicFile
      const lock = yield* TaskLock
      const parked = yield* ParkedSummaries

      const readText = (file: string) =>
        recoverNotFound(fs.readFileString(file), () => null).pipe(Effect.mapError(toPersistenceError("read", file)))

      /** A snapshot that does not decode is evidence: renamed to a fresh name beside it, never overwritten. */
      const moveAside = (file: string, problem: string) =>
        Effect.gen(function*() {
          const aside = `${file}.corrupt-${(yield* nowIso).replace(/[:.]/g, "-")}-${randomBytes(3).toString("hex")}`
          yield* fs.rename(file, aside).pipe(
            Effect.mapError(() =>
              new CorruptFileError({ path: file, movedTo: null, message: `${file} does not parse (${problem}) and could not be moved aside; left untouched` })
            )
          )
          yield* Effect.logWarning(`${file} does not parse (${problem}); kept as ${aside} and started afresh`)
        })

      const readForUpdate = (file: string) =>
        Effect.gen(function*() {
          const text = yield* readText(file)
          if (text === null) return null
          const parsed = parseSnapshot(text)
          if (Either.isRight(parsed)) return parsed.right
          yield* moveAside(file, firstLine(parsed.left))
          return null
        })

      const readParked = (taskId: string) =>
        Effect.flatMap(parked.list(taskId), (found) =>
          Effect.forEach(found, ({ file, record }) =>
            Either.match(record, {
              onLeft: (problem) => Effect.as(moveAside(file, firstLine(problem)), []),
              onRight: (summary) => Effect.succeed([{ file, entry: entryOf(summary) }])
            })).pipe(Effect.map((batches) => batches.flat())))

      const mergeUnderLock = (taskId: string, fresh: ReadonlyArray<Entry>, announced: ReadonlyArray<string>) => {
        const paths = taskPaths(settings, taskId)
        return Effect.gen(function*() {
          const [current, waiting] = yield* Effect.all([readForUpdate(paths.state), readParked(taskId)], { concurrency: 2 })
          const entries = mergeEntries(current?.entries ?? [], waiting.map(({ entry }) => entry), fresh)
          const text = encodeEnvelope({
            ...current?.fields,
            taskId: current?.fields.taskId ?? taskId,
            lastRunAt: entries.at(-1)?.timestamp ?? null,
            runs: entries.map((entry) => entry.json)
          })
          yield* atomic.write(paths.state, `${text}\n`, { durable: true })
          yield* parked.unpark(waiting.map(({ file }) => file))
          const others = waiting.filter(({ file }) => !announced.includes(file)).length
          if (others > 0) yield* Effect.logDebug(`task ${taskId}: merged ${others} parked run summaries into ${paths.state}`)
        }).pipe(
          // The caller parks the summaries again with the failure on record; a copy left here would be merged silently.
          Effect.tapError(() => parked.unpark(announced).pipe(Effect.ignore))
        )
      }

      /** Parking ahead only saves a lock hold: a summary that cannot be parked here still takes the lock. */
      const announce = (taskId: string, summaries: ReadonlyArray<RunSummary>) =>
        Effect.forEach(summaries, (summary) =>
          parked.park(taskId, summary, { durable: false }).pipe(
            Effect.map((file) => [file]),
            Effect.catchAll((error) =>
              Effect.as(Effect.logDebug(`run ${summary.runId}: could not park the summary ahead of the lock: ${error.message}`), []))
          ), { concurrency: 8 }).pipe(Effect.map((files) => files.flat()))

      /** A parked file is removed only by a holder that has written a snapshot containing it. */
      const allMerged = (files: ReadonlyArray<string>) =>
        Effect.map(Effect.forEach(files, parked.isParked, { concurrency: 4 }), (still) => files.length > 0 && !still.some(Boolean))

      const mergedByAnotherHolder = (files: ReadonlyArray<string>) =>
        files.length === 0 ? Effect.never : Effect.repeat(allMerged(files), { schedule: Schedule.spaced(MERGED_POLL), until: (merged) => merged })

      /** A writer that has to wait parks its summaries, so whoever holds the lock next records every waiting run. */
      const recordBatch = (taskId: string, summaries: ReadonlyArray<RunSummary>) =>
        Effect.scoped(Effect.gen(function*() {
          const fresh = summaries.map(entryOf)
          const acquiring = yield* Effect.fork(lock.acquire(taskId))
          if (Option.isSome(yield* Effect.timeoutOption(Fiber.join(acquiring), PARK_AHEAD_AFTER))) {
            return yield* mergeUnderLock(taskId, fresh, [])
          }
          const announced = yield* announce(taskId, summaries)
          const took = yield* Effect.raceFirst(
            Effect.as(Fiber.join(acquiring), "locked" as const),
            Effect.as(mergedByAnotherHolder(announced), "merged" as const)
          ).pipe(
            Effect.catchTag("TaskStateStoreLockError", (error) =>
              Effect.flatMap(allMerged(announced), (merged) => merged ? Effect.succeed("merged" as const) : Effect.fail(error)))
          )
          if (took === "merged") {
            yield* Fiber.interrupt(acquiring)
            return
          }
          yield* mergeUnderLock(taskId, fresh, announced)
        }))

      // Group commit: summaries recorded while a write is under way join the next batch, so writers of one
      // process cost one lock hold per batch.
      const layerScope = yield* Effect.scope
      const queues = new Map<string, Queue.Queue<Waiter>>()

      const worker = (taskId: string, queue: Queue.Queue<Waiter>) =>
        Effect.forever(Effect.gen(function*() {
          const batch = [yield* Queue.take(queue), ...(yield* Queue.takeAll(queue))]
          const exit = yield* Effect.exit(recordBatch(taskId, batch.map((waiter) => waiter.summary)))
          yield* Effect.forEach(batch, (waiter) => Deferred.done(waiter.done, exit), { discard: true })
        }))

      const creating = yield* Effect.makeSemaphore(1)
      const queueOf = (taskId: string) =>
        creating.withPermits(1)(Effect.gen(function*() {
          const known = queues.get(taskId)
          if (known !== undefined) return known
          const queue = yield* Queue.unbounded<Waiter>()
          queues.set(taskId, queue)
          yield* Effect.forkIn(worker(taskId, queue), layerScope)
          return queue
        }))

      const recordRun = Effect.fn("TaskStateStore.recordRun")(function*(taskId: string, summary: RunSummary) {
        const done = yield* Deferred.make<void, RecordError>()
        yield* Queue.offer(yield* queueOf(taskId), { summary, done })
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
        const { lastRunAt, runs, taskId: id } = decoded.right
        return TaskStateSnapshot.make({ taskId: id, lastRunAt, runs })
      })

      return { recordRun, read }
    })
  )
}

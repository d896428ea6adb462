import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Deferred, Duration, Effect, Either, Fiber, Layer, Option, Schedule, Schema } from "effect"
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
const decodeSnapshot = Schema.decodeUnknownEither(SnapshotFile, preserveUnknown)
const decodeSummary = Schema.decodeUnknownEither(RunSummaryJson, preserveUnknown)

/**
 * The snapshot as the writer sees it: the runs stay the JSON values found on disk, each checked
 * against RunSummary, so an entry is carried through a rewrite byte for byte (unknown fields and all)
 * and nothing already on disk is decoded into classes and encoded again.
 */
const SnapshotEnvelope = Schema.parseJson(
  Schema.Struct({ taskId: Schema.String, lastRunAt: Schema.NullOr(Schema.String), runs: Schema.Array(Schema.Unknown) }),
  { space: 2 }
)
const decodeEnvelope = Schema.decodeUnknownEither(SnapshotEnvelope, preserveUnknown)
const encodeEnvelope = Schema.encodeSync(SnapshotEnvelope, preserveUnknown)
const checkRun = Schema.decodeUnknownEither(RunSummary, preserveUnknown)
const encodeRun = Schema.encodeSync(RunSummary, preserveUnknown)
const encodeSummary = Schema.encodeSync(RunSummaryJson)

/** How often a writer waiting for the lock looks whether a holder has merged its parked summaries. */
const MERGED_POLL = Duration.millis(50)
/** The first attempt at a free lock takes a few milliseconds; the first retry comes after 100 ms. */
const PARK_AHEAD_AFTER = Duration.millis(20)

/** A run as it is written: its id and timestamp for the merge, and its JSON value. */
interface Entry {
  readonly runId: string
  readonly timestamp: string
  readonly json: unknown
}

type Snapshot = {
  readonly fields: { readonly taskId: string; readonly lastRunAt: string | null }
  readonly entries: ReadonlyArray<Entry>
}

const entryOf = (summary: RunSummary, json: unknown): Entry => ({ runId: summary.runId, timestamp: summary.timestamp, json })

/** One entry per run id, the later batch replacing the earlier; ordered by timestamp, then run id. */
const mergeEntries = (...batches: ReadonlyArray<ReadonlyArray<Entry>>): ReadonlyArray<Entry> => {
  const byRunId = new Map<string, Entry>()
  for (const batch of batches) for (const entry of batch) byRunId.set(entry.runId, entry)
  return [...byRunId.values()].sort(byTimestampThenRunId)
}

const byTimestampThenRunId = (a: { readonly timestamp: string; readonly runId: string }, b: typeof a): number =>
  a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0

type RecordError = TaskStateStoreLockError | PersistenceError | CorruptFileError

/** One entry per run id, the later record of a run replacing the earlier; ordered by timestamp. */
export const mergeRuns = (...batches: ReadonlyArray<ReadonlyArray<RunSummary>>): ReadonlyArray<RunSummary> => {
  const byRunId = new Map<string, RunSummary>()
  for (const batch of batches) for (const run of batch) byRunId.set(run.runId, run)
  return [...byRunId.values()].sort(byTimestampThenRunId)
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

      /**
       * Per snapshot file, its runs already checked against RunSummary by this process, keyed by their
       * JSON text, and the last text parsed: under the lock only runs another process added since are checked.
       */
      const checkedRuns = new Map<string, Map<string, Entry>>()
      const lastParsed = new Map<string, { readonly text: string; readonly snapshot: Snapshot }>()

      const checkRuns = (file: string, runs: ReadonlyArray<unknown>): Either.Either<ReadonlyArray<Entry>, string> => {
        const checked = checkedRuns.get(file) ?? new Map<string, Entry>()
        const entries: Array<Entry> = []
        const seen = new Map<string, Entry>()
        for (const json of runs) {
          const key = JSON.stringify(json)
          let entry = checked.get(key) ?? seen.get(key)
          if (entry === undefined) {
            const decoded = checkRun(json)
            if (Either.isLeft(decoded)) return Either.left(`run ${entries.length + 1}: ${decoded.left.message}`)
            entry = entryOf(decoded.right, json)
          }
          entries.push(entry)
          seen.set(key, entry)
        }
        checkedRuns.set(file, seen)
        return Either.right(entries)
      }

      const parseSnapshot = (file: string, text: string): Either.Either<Snapshot, string> => {
        const last = lastParsed.get(file)
        if (last?.text === text) return Either.right(last.snapshot)
        const parsed = Either.flatMap(
          Either.mapLeft(decodeEnvelope(text), (error) => error.message),
          ({ runs, ...fields }) => Either.map(checkRuns(file, runs), (entries): Snapshot => ({ fields, entries }))
        )
        if (Either.isRight(parsed)) lastParsed.set(file, { text, snapshot: parsed.right })
        return parsed
      }

      /**
       * Outside the lock: checks the current snapshot so that the check under the lock finds it done.
       * Its failures are not lost: the read under the lock meets and reports them.
       */
      const warmSnapshot = (file: string) =>
        Effect.gen(function*() {
          const text = yield* readText(file)
          if (text !== null) parseSnapshot(file, text)
        }).pipe(Effect.ignore)

      const readSnapshotForUpdate = (file: string) =>
        Effect.gen(function*() {
          const text = yield* readText(file)
          if (text === null) return null
          const parsed = parseSnapshot(file, text)
          if (Either.isRight(parsed)) return parsed.right
          yield* moveAside(file, firstLine(parsed.left))
          return null
        })

      /** Parked summaries decoded before the lock, by file and text, so the lock holder only re-reads them. */
      const parkedCache = new Map<string, { readonly text: string; readonly entry: Entry }>()

      const listParked = (pendingDir: string) =>
        recoverNotFound(fs.readDirectory(pendingDir), () => []).pipe(
          Effect.mapError(toPersistenceError("list", pendingDir)),
          Effect.map((names) => names.filter((name) => name.endsWith(".json") && !name.startsWith(".")).sort())
        )

      const decodeParked = (file: string, text: string) => {
        const cached = parkedCache.get(file)
        if (cached?.text === text) return Either.right(cached.entry)
        return Either.map(decodeSummary(text), (summary) => {
          const entry = entryOf(summary, encodeRun(summary))
          parkedCache.set(file, { text, entry })
          return entry
        })
      }

      /** Outside the lock, like `warmSnapshot`; the holder re-reads every file and meets any failure. */
      const warmParked = (pendingDir: string) =>
        Effect.gen(function*() {
          const names = yield* listParked(pendingDir)
          yield* Effect.forEach(names, (name) => {
            const file = path.join(pendingDir, name)
            return Effect.map(readText(file), (text) => text === null ? undefined : decodeParked(file, text))
          }, { concurrency: 8, discard: true })
        }).pipe(Effect.ignore)

      const readParked = (pendingDir: string) =>
        Effect.gen(function*() {
          const names = yield* listParked(pendingDir)
          return yield* Effect.forEach(names, (name) =>
            Effect.gen(function*() {
              const file = path.join(pendingDir, name)
              const text = yield* readText(file)
              if (text === null) return []
              const decoded = decodeParked(file, text)
              if (Either.isRight(decoded)) return [{ file, entry: decoded.right }]
              yield* moveAside(file, firstLine(decoded.left.message))
              return []
            }), { concurrency: 8 }).pipe(Effect.map((batches) => batches.flat()))
        })

      /**
       * Parks the summaries before the lock is tried, so that whoever holds the lock next merges them:
       * under contention one hold records the runs of every process waiting, instead of one each.
       * A failure here only loses that shortcut; it is logged and the run still takes the lock. Not
       * fsynced: a holder's snapshot that merges the file is durable, and a summary still parked when
       * the attempts run out is written again, durably, by the coordinator.
       */
      const announce = (pendingDir: string, summaries: ReadonlyArray<RunSummary>) =>
        Effect.forEach(summaries, (summary) => {
          const file = path.join(pendingDir, `${summary.runId}.json`)
          return atomic.write(file, `${encodeSummary(summary)}\n`).pipe(
            Effect.as([file]),
            Effect.catchAll((error) =>
              Effect.as(Effect.logWarning(`run ${summary.runId}: could not park the summary ahead of the lock: ${error.message}`), [])
            )
          )
        }, { concurrency: 8 }).pipe(Effect.map((files) => files.flat()))

      /** A parked file is removed only by a holder that has written a snapshot containing it. */
      const allMerged = (files: ReadonlyArray<string>) =>
        Effect.forEach(files, (file) => Effect.map(fs.exists(file), (exists) => !exists), { concurrency: 4 }).pipe(
          Effect.map((gone) => files.length > 0 && gone.every(Boolean)),
          Effect.orElseSucceed(() => false)
        )

      const mergedByAnotherHolder = (files: ReadonlyArray<string>) =>
        files.length === 0
          ? Effect.never
          : Effect.repeat(allMerged(files), { schedule: Schedule.spaced(MERGED_POLL), until: (merged) => merged })

      const unpark = (files: ReadonlyArray<string>) =>
        Effect.forEach(files, (file) =>
          fs.remove(file, { force: true }).pipe(
            Effect.catchAll((error) => Effect.logWarning(`could not remove parked summary ${file}: ${error.message}`))
          ), { discard: true })

      /** The hold itself: re-read, merge, write, unpark. */
      const mergeUnderLock = (taskId: string, fresh: ReadonlyArray<Entry>, announced: ReadonlyArray<string>) => {
        const paths = taskPaths(settings, taskId)
        return Effect.gen(function*() {
          const [current, parked] = yield* Effect.all([readSnapshotForUpdate(paths.state), readParked(paths.pendingDir)], {
            concurrency: 2
          })
          const entries = mergeEntries(current?.entries ?? [], parked.map(({ entry }) => entry), fresh)
          const text = encodeEnvelope({
            ...current?.fields,
            taskId: current?.fields.taskId ?? taskId,
            lastRunAt: entries.at(-1)?.timestamp ?? null,
            runs: entries.map((entry) => entry.json)
          })
          yield* atomic.write(paths.state, `${text}\n`, { durable: true })
          yield* Effect.forEach(parked, ({ file }) =>
            fs.remove(file, { force: true }).pipe(
              Effect.mapError(toPersistenceError("remove", file)),
              Effect.tap(() => Effect.sync(() => parkedCache.delete(file)))
            ), { concurrency: 8, discard: true })
          const checked = checkedRuns.get(paths.state) ?? new Map<string, Entry>()
          for (const entry of [...parked.map((p) => p.entry), ...fresh]) checked.set(JSON.stringify(entry.json), entry)
          checkedRuns.set(paths.state, checked)
          const own = new Set(fresh.map((entry) => entry.runId))
          const others = parked.filter(({ file, entry }) => !announced.includes(file) && !own.has(entry.runId)).length
          if (others > 0) {
            yield* Effect.logInfo(`task ${taskId}: merged ${others} parked run summaries into ${paths.state}`)
          }
        }).pipe(
          // The caller parks the summaries again with the failure on record; a copy left here would be merged silently.
          Effect.tapError(() => unpark(announced))
        )
      }

      /**
       * Merges a batch of summaries under one hold of the lock, unless another holder merges them first.
       * Everything that does not need the lock (decoding parked summaries, checking the current snapshot,
       * encoding the new runs) is done before it, because the hold is what concurrent processes queue
       * for: under the lock the snapshot and the parked files are only re-read, and only what changed
       * since is checked.
       */
      const recordBatch = (taskId: string, summaries: ReadonlyArray<RunSummary>) => {
        const paths = taskPaths(settings, taskId)
        return Effect.scoped(
          Effect.gen(function*() {
            const fresh = summaries.map((summary) => entryOf(summary, encodeRun(summary)))
            yield* Effect.all([warmSnapshot(paths.state), warmParked(paths.pendingDir)], { concurrency: 2, discard: true })
            // Compiles the encoder on a trivial value, so a fresh process does not do it while holding the lock.
            encodeEnvelope({ taskId, lastRunAt: null, runs: [] })
            // A free lock is taken at the first attempt; only a writer that has to wait parks ahead of it.
            const acquiring = yield* Effect.fork(lock.acquire(taskId))
            if (Option.isNone(yield* Effect.timeoutOption(Fiber.join(acquiring), PARK_AHEAD_AFTER))) {
              const announced = yield* announce(paths.pendingDir, summaries)
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
            } else {
              yield* mergeUnderLock(taskId, fresh, [])
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

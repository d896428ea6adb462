import { Deferred, Duration, Effect, ExecutionStrategy, Layer, Option, Queue, Ref, Schedule, Schema, Scope } from "effect"
import { HistorySchemaError } from "../domain/Errors.js"
import { type MetricsLine, PendingHistory as PendingRecord } from "../domain/Records.js"
import { Redaction } from "../domain/Redactor.js"
import { isTerminal, RunManifest } from "../domain/RunManifest.js"
import { RunSummary } from "../domain/RunSummary.js"
import { runPaths } from "../Layout.js"
import { MetricsRecorder } from "../persistence/MetricsRecorder.js"
import { PendingHistory } from "../persistence/PendingHistory.js"
import { ProcessInfo } from "../persistence/ProcessInfo.js"
import { RunDirectory } from "../persistence/RunDirectory.js"
import { TaskStateStore } from "../persistence/TaskStateStore.js"
import { Settings } from "../Settings.js"
import { asHistoryRun, historyRows } from "./HistoryRows.js"
import { loadPgStore } from "./loadPgStore.js"
import type { HistoryFailure, PgStore, RunEnd } from "./PgStore.js"
import { filesList, HistoryUnreachable, RunHistory, type RunHistoryShape } from "./RunHistory.js"
import { timed } from "./Timing.js"

/** How long a command waits for the database before it starts a run without it. */
const READY_LIMIT = Duration.seconds(3)
const PUSH_BATCH = 50
/** A process start time is known to the second: a writer may seem to have started up to this long after its record. */
const WRITER_START_SLACK_MS = 2_000
const SETTLE_LIMIT = Duration.seconds(3)

const encodeSummary = Schema.encodeSync(RunSummary)
const decodeManifest = Schema.decodeUnknownOption(RunManifest)

interface Unsent {
  readonly taskId: string
  manifest?: RunManifest
  beat?: string
  end?: { readonly summary: RunSummary; readonly metrics: MetricsLine | null }
}

// Behind the files: a database that is unreachable, slow or failing costs the run one warning, and
// what it did not take is parked and pushed by the next command.
export const databaseHistory = (url: string): Layer.Layer<
  RunHistory,
  never,
  Settings | Redaction | RunDirectory | TaskStateStore | MetricsRecorder | PendingHistory | ProcessInfo
> =>
  Layer.scoped(
    RunHistory,
    Effect.gen(function*() {
      const settings = yield* Settings
      const redactor = yield* Redaction
      const runs = yield* RunDirectory
      const metricsFiles = yield* MetricsRecorder
      const pending = yield* PendingHistory
      const processes = yield* ProcessInfo
      const { pid } = processes
      const fromFiles = yield* filesList
      // The pool and the writer live in a scope of their own, closed after the end of the command has
      // waited for them (finalizers run last-added first, so this one is made before that wait is added).
      const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)

      const connection = yield* Deferred.make<PgStore, HistoryFailure>()
      /** Done once what earlier commands parked has been pushed: a query then sees those runs too. */
      const caughtUp = yield* Deferred.make<void>()
      /** The writer has nothing in hand: what the end of the command waits for. */
      const settled = yield* Ref.make(true)
      const stopped = yield* Ref.make(false)
      // Only a command that needs the database reaches it: the first need starts the connection and the writer.
      const started = yield* Ref.make(false)
      const begin = Effect.flatMap(Ref.getAndSet(started, true), (already) =>
        already ? Effect.void : Effect.zipRight(Ref.set(settled, false), Effect.forkIn(
          Effect.flatMap(timed("load dist/history.cjs")(loadPgStore), (chunk) => timed("connect")(Scope.extend(chunk.connect(url), scope))).pipe(
            Effect.exit,
            Effect.flatMap((exit) => Deferred.done(connection, exit)),
            Effect.zipRight(worker)
          ),
          scope
        ).pipe(Effect.asVoid)))
      const connected = Effect.zipRight(begin, Deferred.await(connection))

      const warned = yield* Ref.make(false)
      /** Why the database could not be reached, once known: the one warning, said only when a run is in play. */
      const refused = yield* Ref.make(Option.none<HistoryFailure>())
      const warnOnce = (failure: { readonly message: string }) =>
        Effect.flatMap(Ref.getAndSet(warned, true), (already) =>
          already ? Effect.logDebug(`shared history: ${failure.message}`) : Effect.logWarning(
            `the shared history is unavailable (${failure.message}); runs are kept in their files and parked under ${settings.outDir}/<task>/pending-history/ for the next command that reaches it`
          ))

      const { endOf, rowOf } = historyRows(redactor)

      const unsent = new Map<string, Unsent>()
      const journaled = new Set<string>()
      const signals = yield* Queue.unbounded<string>()

      const park = (runId: string, state: Unsent) =>
        state.manifest === undefined ? Effect.void : pending.park(PendingRecord.make({
          task_id: state.taskId,
          run_id: runId,
          host: settings.host,
          pid,
          manifest: redactor.maskJson(state.manifest),
          summary: state.end === undefined ? null : redactor.maskJson(encodeSummary(state.end.summary)),
          metrics: state.end?.metrics == null ? [] : [redactor.maskJson(state.end.metrics)]
        })).pipe(Effect.catchAll((error) => Effect.logWarning(`could not park run ${runId} for the shared history: ${error.message}`)))

      /** The freshest of what is parked and what the run's own files say (a killed run's files are ahead of its journal). */
      const parkedEnd = (record: PendingRecord) =>
        Effect.gen(function*() {
          const paths = runPaths(settings, record.task_id, record.run_id)
          const local = yield* runs.read({ taskId: record.task_id, runId: record.run_id, paths }).pipe(Effect.option)
          const parked = decodeManifest(record.manifest)
          const manifest = Option.isSome(local) && (Option.isNone(parked) || local.value.manifest.updated_at >= parked.value.updated_at)
            ? local.value.manifest
            : Option.getOrNull(parked)
          if (manifest === null) return Option.none<RunEnd>()
          if (!isTerminal(manifest.status)) return Option.some(endOf(manifest, null, [], record.host, record.pid))
          const summary = record.summary ?? Option.getOrNull(Option.map(yield* runs.readRunSummary(paths), (s) => redactor.maskJson(encodeSummary(s))))
          const lines = (yield* metricsFiles.read(record.task_id).pipe(Effect.orElseSucceed(() => []))).filter((line) => line.run_id === record.run_id)
          return Option.some(endOf(manifest, summary, lines, record.host, record.pid))
        })

      // A live writer sends its own run, also between giving up the run's ownership and its last write,
      // so no other command pushes it. A pid started after the record was written has been reused.
      const writerAlive = (record: PendingRecord) =>
        Effect.gen(function*() {
          if (record.host !== settings.host || !(yield* processes.isAlive(record.pid))) return false
          const since = yield* processes.startedAtMillis(record.pid)
          const written = Option.map(decodeManifest(record.manifest), (m) => Date.parse(m.updated_at))
          return Option.isNone(since) || Option.isNone(written) || since.value <= written.value + WRITER_START_SLACK_MS
        })

      const pushParked = (store: PgStore) =>
        Effect.gen(function*() {
          const ready: Array<{ readonly record: PendingRecord; readonly end: Option.Option<RunEnd> }> = []
          for (const { record } of yield* pending.list.pipe(Effect.orElseSucceed(() => []))) {
            if (unsent.has(record.run_id) || (yield* writerAlive(record))) continue
            const place = { taskId: record.task_id, runId: record.run_id, paths: runPaths(settings, record.task_id, record.run_id) }
            const owned = yield* Effect.scoped(runs.own(place)).pipe(Effect.as(false), Effect.catchTag("RunBusyError", () => Effect.succeed(true)), Effect.orElseSucceed(() => false))
            if (owned) continue
            ready.push({ record, end: yield* parkedEnd(record) })
          }
          // One transaction per task and batch: a backlog costs a few round trips, not a few per run.
          for (let at = 0; at < ready.length; at += PUSH_BATCH) {
            const batch = ready.slice(at, at + PUSH_BATCH)
            yield* store.recordEnds(batch.flatMap(({ end }) => Option.toArray(end)))
            for (const { record } of batch) yield* pending.remove(record.task_id, record.run_id).pipe(Effect.ignore)
            yield* Effect.logDebug(`pushed ${batch.length} parked run(s) to the shared history: ${batch.map(({ record }) => record.run_id).join(", ")}`)
          }
        })

      const send = (store: PgStore, runId: string, state: Unsent) =>
        state.end !== undefined && state.manifest !== undefined
          ? Effect.zipRight(
            store.recordEnds([endOf(state.manifest, redactor.maskJson(encodeSummary(state.end.summary)), state.end.metrics === null ? [] : [state.end.metrics], settings.host, pid)]),
            pending.remove(state.taskId, runId).pipe(Effect.ignore)
          )
          : state.manifest !== undefined
          ? store.upsertRun(rowOf(state.manifest, settings.host, pid))
          : state.beat !== undefined
          ? store.heartbeat(runId, state.beat)
          : Effect.void

      /** One writer, so each run's writes go out in the order they were made. */
      const worker: Effect.Effect<void> = Effect.gen(function*() {
        const store = yield* Deferred.await(connection).pipe(Effect.either)
        if (store._tag === "Left") {
          yield* Ref.set(refused, Option.some(store.left))
          // A newer schema refuses the command itself (one line, exit 2), and a command without runs of
          // its own (history, status) says itself what it could not ask: no warning beside either.
          return yield* store.left.kind !== "newer-schema" && journaled.size > 0 ? warnOnce(store.left) : Effect.logDebug(`shared history: ${store.left.message}`)
        }
        // Beside this command's own writes, not before them: a backlog of parked runs never delays its own run.
        yield* Effect.forkIn(
          pushParked(store.right).pipe(timed("push parked runs"), Effect.catchAll(warnOnce), Effect.ensuring(Deferred.succeed(caughtUp, undefined))),
          scope
        )
        for (;;) {
          yield* Ref.set(settled, (yield* Queue.size(signals)) === 0 && unsent.size === 0)
          const runId = yield* Queue.take(signals)
          const state = unsent.get(runId)
          if (state === undefined) continue
          unsent.delete(runId)
          yield* Ref.set(settled, false)
          const sent = yield* Effect.either(send(store.right, runId, state).pipe(
            timed(state.end !== undefined ? "the end-of-run transaction" : state.manifest !== undefined ? "a run row upsert" : "a heartbeat")
          ))
          if (sent._tag === "Left") {
            unsent.set(runId, { ...state, ...unsent.get(runId) })
            return yield* warnOnce(sent.left)
          }
        }
      }).pipe(Effect.ensuring(Ref.set(stopped, true)))

      const enqueue = (runId: string, taskId: string, change: (state: Unsent) => void) =>
        Effect.suspend(() => {
          const state = unsent.get(runId) ?? { taskId }
          change(state)
          unsent.set(runId, state)
          return Effect.zipRight(Ref.set(settled, false), Queue.offer(signals, runId))
        })

      const done = Effect.map(Effect.all([Ref.get(settled), Ref.get(stopped), Deferred.isDone(caughtUp)]), ([idle, gone, pushed]) =>
        gone || (idle && pushed && unsent.size === 0))

      // At the end of the command: what is still unsent gets a moment, then is parked for the next one.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          if (!(yield* Ref.get(started))) return
          yield* Effect.interruptible(done.pipe(Effect.repeat({ schedule: Schedule.spaced(Duration.millis(10)), until: (finished) => finished }))).pipe(
            Effect.timeoutOption(SETTLE_LIMIT),
            timed("wait at exit")
          )
          if (unsent.size === 0) return
          yield* warnOnce(Option.getOrElse(yield* Ref.get(refused), () => ({ message: `it did not take ${unsent.size} run(s) in time` })))
          for (const [runId, state] of unsent) yield* park(runId, state)
        }))

      const ready = Effect.gen(function*() {
        const outcome_ = yield* connected.pipe(Effect.either, Effect.timeoutOption(READY_LIMIT), timed("wait before the run"))
        if (Option.isNone(outcome_)) return
        const outcome = outcome_.value
        if (outcome._tag === "Left" && outcome.left.kind === "newer-schema") return yield* new HistorySchemaError({ message: outcome.left.message })
      })

      const asked = <A>(query: (store: PgStore) => Effect.Effect<A, HistoryFailure>) =>
        connected.pipe(
          Effect.tap(() => Deferred.await(caughtUp)),
          Effect.flatMap(query),
          Effect.mapError((failure) =>
            failure.kind === "newer-schema" ? new HistorySchemaError({ message: failure.message }) : new HistoryUnreachable({ message: failure.message }))
        )

      return {
        source: "database",
        ready,
        recorded: (manifest) =>
          Effect.gen(function*() {
            // A journal first: a run killed before the database heard of it is still pushed later.
            if (!journaled.has(manifest.run_id)) {
              journaled.add(manifest.run_id)
              yield* park(manifest.run_id, { taskId: manifest.task_id, manifest }).pipe(timed("park the journal"))
            }
            yield* enqueue(manifest.run_id, manifest.task_id, (state) => void (state.manifest = manifest))
            yield* begin
            const failed = yield* Ref.get(refused)
            if (Option.isSome(failed) && failed.value.kind !== "newer-schema") yield* warnOnce(failed.value)
          }),
        beat: (run, at) => enqueue(run.run_id, run.task_id, (state) => void (state.beat = at)),
        ended: (manifest, summary, metrics) =>
          enqueue(manifest.run_id, manifest.task_id, (state) => {
            state.manifest = manifest
            state.end = { summary, metrics }
          }),
        list: (taskId, limit) =>
          asked((store) => store.listRuns(taskId, limit)).pipe(
            Effect.map((rows) => ({ source: "database" as const, runs: rows.map(asHistoryRun) })),
            Effect.catchTag("HistoryUnreachable", (error) =>
              Effect.zipRight(Effect.logWarning(`the shared history could not be asked (${error.message}); listing this machine's files`), fromFiles(taskId, limit)))
          ),
        find: (runId) => asked((store) => store.findRun(runId))
      } satisfies RunHistoryShape
    })
  )

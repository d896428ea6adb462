import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Clock, Effect, Fiber, HashMap, Logger, type LogLevel, Option, Ref, TestClock } from "effect"
import type { Scope } from "effect"
import { PersistenceError } from "../../src/domain/Errors.js"
import { CommandEntry, decodeRunManifest, RunManifest } from "../../src/domain/RunManifest.js"
import { runPaths } from "../../src/Layout.js"
import { RunDirectory } from "../../src/persistence/RunDirectory.js"
import { isoAt } from "../../src/domain/Timestamp.js"
import * as Heartbeat from "../../src/run/Heartbeat.js"
import * as ManifestStore from "../../src/run/ManifestStore.js"
import { sampleManifest, SAMPLE_RUN_ID } from "../support/Manifests.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { memoryPersistence, testSettings } from "../support/PersistenceTestLayers.js"

const RUN_ID = SAMPLE_RUN_ID

const initialManifest = sampleManifest()

type Fault = "ok" | "fail" | "hang"

interface Disk {
  readonly sink: ManifestStore.ManifestSink
  /** Clock millis of every completed manifest write, with its `final` flag. */
  readonly manifestWrites: Effect.Effect<ReadonlyArray<{ readonly atMillis: number; readonly final: boolean }>>
  readonly onDisk: Effect.Effect<RunManifest | undefined>
  readonly heartbeatFiles: Effect.Effect<ReadonlyArray<string>>
  /** Decides, per attempt and Clock time, whether a write succeeds, fails or never returns. */
  readonly setFault: (fault: (kind: "manifest" | "heartbeat", atMillis: number) => Fault) => Effect.Effect<void>
}

const memoryDisk: Effect.Effect<Disk> = Effect.gen(function*() {
  const manifests = yield* Ref.make<ReadonlyArray<{ atMillis: number; final: boolean; manifest: RunManifest }>>([])
  const heartbeats = yield* Ref.make<ReadonlyArray<string>>([])
  const fault = yield* Ref.make<(kind: "manifest" | "heartbeat", atMillis: number) => Fault>(() => "ok")
  const attempt = (kind: "manifest" | "heartbeat", path: string, record: Effect.Effect<void>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const decide = yield* Ref.get(fault)
      switch (decide(kind, now)) {
        case "fail":
          return yield* new PersistenceError({ operation: "write", path, reason: "Unknown", message: "EIO: i/o error" })
        case "hang":
          return yield* Effect.never
        case "ok":
          return yield* record
      }
    })
  return {
    sink: {
      writeManifest: (manifest, { final }) =>
        attempt(
          "manifest",
          "manifest.json",
          Effect.flatMap(Clock.currentTimeMillis, (atMillis) =>
            Ref.update(manifests, (all) => [...all, { atMillis, final, manifest }]))
        ),
      writeHeartbeat: (iso) => attempt("heartbeat", ".heartbeat", Ref.update(heartbeats, (all) => [...all, iso]))
    },
    manifestWrites: Effect.map(Ref.get(manifests), (all) => all.map(({ atMillis, final }) => ({ atMillis, final }))),
    onDisk: Effect.map(Ref.get(manifests), (all) => all.at(-1)?.manifest),
    heartbeatFiles: Ref.get(heartbeats),
    setFault: (decide) => Ref.set(fault, decide)
  }
})

interface LogLine {
  readonly level: LogLevel.LogLevel
  readonly message: string
  readonly consecutiveFailures: unknown
  readonly errors: ReadonlyArray<string>
}

const tagOf = (e: unknown) => (typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : "?")
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** Runs `self` with a logger that keeps every line, so tests can assert on warnings. */
const capturingLogs = <A, E, R>(self: (logs: () => ReadonlyArray<LogLine>) => Effect.Effect<A, E, R>) => {
  const lines: Array<LogLine> = []
  const logger = Logger.make<unknown, void>(({ annotations, cause, logLevel, message }) => {
    const text = Array.isArray(message) ? String(message[0]) : String(message)
    const consecutiveFailures = Option.getOrUndefined(HashMap.get(annotations, "consecutive_failures"))
    const errors = Chunk.toReadonlyArray(Cause.failures(cause)).map((e) => `${tagOf(e)}: ${messageOf(e)}`)
    lines.push({ level: logLevel, message: text, consecutiveFailures, errors })
  })
  return self(() => lines).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

const warnings = (lines: ReadonlyArray<LogLine>) => lines.filter((line) => line.level._tag === "Warning")

const stage = (id: string, status: "running" | "succeeded") => (m: RunManifest) =>
  new RunManifest({
    ...m,
    commands: [
      ...m.commands.filter((c) => c.id !== id),
      new CommandEntry({
        index: m.commands.length + 1,
        id,
        title: id,
        command: `echo ${id}`,
        kind: "command",
        status,
        started_at: null,
        completed_at: null,
        exit_code: status === "succeeded" ? 0 : null,
        summary: null,
        log_path: null,
        error_file: null,
        sub_run_id: null
      })
    ]
  })

/** One stage, `build`, running for 47 s and then succeeding: the run the heartbeat tests watch. */
const buildFor47s = (store: ManifestStore.ManifestStore) =>
  Effect.gen(function*() {
    yield* store.update(stage("build", "running"))
    yield* Effect.sleep("47 seconds")
    yield* store.update((m) => finish(stage("build", "succeeded")(m)))
  })

const finish = (m: RunManifest) => new RunManifest({ ...m, status: "succeeded", completed_at: m.updated_at })

/** What the run engine does: the heartbeat lives in the run's Scope; the final flush follows it. */
const runWithHeartbeat = <A, E>(store: ManifestStore.ManifestStore, body: Effect.Effect<A, E, Scope.Scope>) =>
  Effect.scoped(Heartbeat.start(store).pipe(Effect.zipRight(body))).pipe(
    Effect.ensuring(Effect.orDie(store.flush))
  )

describe("Heartbeat", () => {
  it.effect("a single 65 s stage: .heartbeat on every tick (13), the manifest by the heartbeat at most 3 times", () =>
    Effect.gen(function*() {
      const disk = yield* memoryDisk
      const store = yield* ManifestStore.make(initialManifest, disk.sink)
      const run = yield* Effect.fork(runWithHeartbeat(
        store,
        Effect.gen(function*() {
          // Half a second of setup keeps the stage's end off a tick, so the count does not hang on a tie.
          yield* Effect.sleep("500 millis")
          yield* store.update(stage("build", "running"))
          yield* Effect.sleep("65 seconds")
          yield* store.update((m) => finish(stage("build", "succeeded")(m)))
        })
      ))
      yield* TestClock.adjust("65500 millis")
      yield* Fiber.join(run)

      const beats = yield* disk.heartbeatFiles
      expect(beats).toEqual(Array.from({ length: 13 }, (_, i) => isoAt((i + 1) * 5000)))
      const writes = yield* disk.manifestWrites
      // Two writes by the stage (start, end) and one final flush; the rest are the heartbeat's.
      const byHeartbeat = writes.length - 3
      expect(byHeartbeat).toBeGreaterThan(0)
      expect(byHeartbeat).toBeLessThanOrEqual(3)
      expect(writes.filter((w) => w.final)).toEqual([{ atMillis: 65_500, final: true }])
      // Forced once 30 s pass without a write, so no gap exceeds 30 s plus one tick.
      const gaps = writes.map((w, i) => w.atMillis - (writes[i - 1]?.atMillis ?? 0))
      expect(Math.max(...gaps)).toBeLessThanOrEqual(35_000)
      const final = yield* disk.onDisk
      expect(final?.status).toBe("succeeded")
      expect(final?.heartbeat_at).toBe(isoAt(65_000))

      yield* TestClock.adjust("1 minute")
      expect((yield* disk.heartbeatFiles).length).toBe(13)
    }))

  it.effect("many quick stages keep the manifest fresh: the heartbeat adds no manifest write", () =>
    Effect.gen(function*() {
      const disk = yield* memoryDisk
      const store = yield* ManifestStore.make(initialManifest, disk.sink)
      const stages = Array.from({ length: 40 }, (_, i) => `stage-${i + 1}`)
      const run = yield* Effect.fork(runWithHeartbeat(
        store,
        Effect.forEach(stages, (id) =>
          store.update(stage(id, "running")).pipe(
            Effect.zipRight(Effect.sleep("1525 millis")),
            Effect.zipRight(store.update(stage(id, "succeeded")))
          )).pipe(Effect.zipRight(store.update(finish)))
      ))
      yield* TestClock.adjust("2 minutes")
      yield* Fiber.join(run)

      const writes = yield* disk.manifestWrites
      expect(writes.length).toBe(stages.length * 2 + 1 + 1)
      expect((yield* disk.heartbeatFiles).length).toBe(12)
      expect((yield* disk.onDisk)?.commands.every((c) => c.status === "succeeded")).toBe(true)
    }))

  it.effect("writes fail for three ticks then recover: three warnings, the run completes, the next tick writes", () =>
    capturingLogs((logs) =>
      Effect.gen(function*() {
        const disk = yield* memoryDisk
        // Ticks at 25, 30 and 35 s fail (the one at 30 s would also have written the manifest).
        yield* disk.setFault((_, at) => (at >= 25_000 && at < 40_000 ? "fail" : "ok"))
        const store = yield* ManifestStore.make(initialManifest, disk.sink)
        const run = yield* Effect.fork(runWithHeartbeat(
          store,
          buildFor47s(store)
        ))
        yield* TestClock.adjust("47 seconds")
        yield* Fiber.join(run)

        const warned = warnings(logs())
        expect(warned.map((w) => w.consecutiveFailures)).toEqual([1, 2, 3])
        expect(warned[0]?.message).toContain("Heartbeat write failed")
        // Tick at 25 s: only .heartbeat was due; at 30 s the manifest was due too, and both failures are told.
        expect(warned.map((w) => w.errors)).toEqual([
          ["PersistenceError: EIO: i/o error"],
          ["PersistenceError: EIO: i/o error", "PersistenceError: EIO: i/o error"],
          ["PersistenceError: EIO: i/o error", "PersistenceError: EIO: i/o error"]
        ])
        expect(logs().some((l) => l.message.includes("recovered after 3"))).toBe(true)

        expect(yield* disk.heartbeatFiles).toEqual([5, 10, 15, 20, 40, 45].map((s) => isoAt(s * 1000)))
        // The manifest write missed at 30 s is retried by the first tick that succeeds.
        const writes = yield* disk.manifestWrites
        expect(writes).toEqual([
          { atMillis: 0, final: false },
          { atMillis: 40_000, final: false },
          { atMillis: 47_000, final: false },
          { atMillis: 47_000, final: true }
        ])
        const final = yield* disk.onDisk
        expect(final?.status).toBe("succeeded")
        expect(final?.commands.map((c) => c.status)).toEqual(["succeeded"])
        expect(final?.heartbeat_at).toBe(isoAt(45_000))
      })
    ))

  it.effect("a hanging heartbeat write is abandoned after 10 s and does not block the run", () =>
    capturingLogs((logs) =>
      Effect.gen(function*() {
        const disk = yield* memoryDisk
        yield* disk.setFault((kind, at) => (kind === "heartbeat" && at === 5000 ? "hang" : "ok"))
        const store = yield* ManifestStore.make(initialManifest, disk.sink)
        const stageWrites = yield* Ref.make<ReadonlyArray<number>>([])
        const run = yield* Effect.fork(runWithHeartbeat(
          store,
          Effect.forEach([6, 7, 8], (second) =>
            Effect.sleep("1 second").pipe(
              Effect.zipRight(store.update(stage(`s${second}`, "succeeded"))),
              Effect.zipRight(Clock.currentTimeMillis),
              Effect.flatMap((now) => Ref.update(stageWrites, (all) => [...all, now]))
            )).pipe(Effect.delay("5 seconds"), Effect.zipRight(Effect.sleep("14 seconds")))
        ))
        yield* TestClock.adjust("9 seconds")
        // The stages wrote on time while the tick at 5 s hung.
        expect(yield* Ref.get(stageWrites)).toEqual([6000, 7000, 8000])
        expect(warnings(logs())).toEqual([])

        yield* TestClock.adjust("6 seconds")
        const warned = warnings(logs())
        expect(warned.map((w) => w.consecutiveFailures)).toEqual([1])
        expect(warned[0]?.errors).toEqual([
          "HeartbeatWriteTimeout: heartbeat write took longer than 10 s and was abandoned"
        ])

        yield* TestClock.adjust("7 seconds")
        yield* Fiber.join(run)
        // Abandoned at 15 s; the fixed schedule ticks again at once and then every 5 s.
        expect(yield* disk.heartbeatFiles).toEqual([15, 20].map((s) => isoAt(s * 1000)))
        expect((yield* disk.manifestWrites).filter((w) => w.final)).toEqual([{ atMillis: 22_000, final: true }])
      })
    ))

  it.effect("a hanging manifest write by the heartbeat holds a stage write back at most 10 s", () =>
    capturingLogs((logs) =>
      Effect.gen(function*() {
        const disk = yield* memoryDisk
        // The tick at 30 s is the first to owe the manifest a write; that write never returns.
        yield* disk.setFault((kind, at) => (kind === "manifest" && at === 30_000 ? "hang" : "ok"))
        const store = yield* ManifestStore.make(initialManifest, disk.sink)
        const stageWrittenAt = yield* Ref.make<number | undefined>(undefined)
        const run = yield* Effect.fork(runWithHeartbeat(
          store,
          Effect.gen(function*() {
            yield* store.update(stage("build", "running"))
            yield* Effect.sleep("32 seconds")
            yield* store.update(stage("build", "succeeded"))
            yield* Ref.set(stageWrittenAt, yield* Clock.currentTimeMillis)
            yield* Effect.sleep("12 seconds")
            yield* store.update(finish)
          })
        ))
        yield* TestClock.adjust("52 seconds")
        yield* Fiber.join(run)

        expect(yield* Ref.get(stageWrittenAt)).toBe(40_000)
        expect(warnings(logs()).map((w) => w.errors)).toEqual([
          ["HeartbeatWriteTimeout: heartbeat write took longer than 10 s and was abandoned"]
        ])
        expect(yield* disk.manifestWrites).toEqual([
          { atMillis: 0, final: false },
          { atMillis: 40_000, final: false },
          { atMillis: 52_000, final: false },
          { atMillis: 52_000, final: true }
        ])
        expect((yield* disk.onDisk)?.status).toBe("succeeded")
      })
    ))

  it.effect("interrupted mid-stage: the fiber stops and the final flush happens exactly once", () =>
    Effect.gen(function*() {
      const disk = yield* memoryDisk
      const store = yield* ManifestStore.make(initialManifest, disk.sink)
      const run = yield* Effect.fork(
        Effect.scoped(
          Heartbeat.start(store).pipe(
            Effect.zipRight(store.update(stage("build", "running"))),
            Effect.zipRight(Effect.never)
          )
        ).pipe(
          Effect.onInterrupt(() =>
            store.modify((m) => new RunManifest({ ...m, status: "cancelled", status_detail: "cancelled" })).pipe(
              Effect.zipRight(Effect.orDie(store.flush))
            )
          )
        )
      )
      yield* TestClock.adjust("42 seconds")
      yield* Fiber.interrupt(run)
      const beatsAtInterrupt = (yield* disk.heartbeatFiles).length
      expect(beatsAtInterrupt).toBe(8)

      yield* TestClock.adjust("2 minutes")
      expect((yield* disk.heartbeatFiles).length).toBe(beatsAtInterrupt)
      const writes = yield* disk.manifestWrites
      expect(writes.filter((w) => w.final)).toEqual([{ atMillis: 42_000, final: true }])
      expect(writes.at(-1)?.final).toBe(true)
      expect((yield* disk.onDisk)?.status).toBe("cancelled")
    }))

  it.effect("on the in-memory disk: .heartbeat and manifest survive three failing ticks and stay valid", () =>
    capturingLogs((logs) =>
      Effect.gen(function*() {
        const disk = yield* MemoryFileSystem
        const runs = yield* RunDirectory
        const paths = runPaths(testSettings, "0101", RUN_ID)
        const runDir = paths.artifactRoot
        yield* disk.seed(`${runDir}/runner.ndjson`, "")
        const sink: ManifestStore.ManifestSink = {
          writeManifest: (manifest, options) => runs.writeManifest(paths, manifest, options),
          writeHeartbeat: (iso) => runs.writeHeartbeat(paths, iso)
        }
        const store = yield* ManifestStore.make(initialManifest, sink)
        const run = yield* Effect.fork(runWithHeartbeat(
          store,
          buildFor47s(store)
        ))
        yield* TestClock.adjust("24 seconds")
        yield* disk.failAlways("rename", (path) => path.startsWith(runDir), "EIO")
        yield* TestClock.adjust("15 seconds")
        const onDiskDuringFaults = yield* disk.readString(`${runDir}/manifest.json`)
        yield* disk.clearFaults
        yield* TestClock.adjust("8 seconds")
        yield* Fiber.join(run)

        expect(warnings(logs()).map((w) => w.consecutiveFailures)).toEqual([1, 2, 3])
        // While the disk failed, the last good manifest stayed whole.
        const during = yield* decodeRunManifest(Option.getOrThrow(onDiskDuringFaults))
        expect(during.commands.map((c) => c.status)).toEqual(["running"])
        const final = yield* decodeRunManifest(Option.getOrThrow(yield* disk.readString(`${runDir}/manifest.json`)))
        expect(final.status).toBe("succeeded")
        expect(final.heartbeat_at).toBe(isoAt(45_000))
        expect(final.updated_at).toBe(isoAt(47_000))
        expect(yield* disk.readString(`${runDir}/.heartbeat`)).toEqual(Option.some(`${isoAt(45_000)}\n`))
      }).pipe(Effect.provide(memoryPersistence()))
    ))
})

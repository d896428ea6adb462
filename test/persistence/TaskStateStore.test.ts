import { describe, expect, it } from "@effect/vitest"
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Fiber, Option, Schema, TestClock } from "effect"
import { LockHolder } from "../../src/domain/Records.js"
import { readFileSync } from "node:fs"
import { RunSummaryJson, TaskStateSnapshot, TaskStateSnapshotJson } from "../../src/domain/RunSummary.js"
import { TaskStateStore } from "../../src/persistence/TaskStateStore.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { captureLogs, fakeProcessInfo, HOST, memoryPersistence, sampleSummary } from "../support/PersistenceTestLayers.js"
import { legacyPath } from "../support/LegacyFixtures.js"

const STATE = "/repo/out/t1/state.json"
const stateOnDisk = Effect.flatMap(MemoryFileSystem, (mem) => mem.readString(STATE)).pipe(
  Effect.map(Option.map((text) => JSON.parse(text) as { taskId: string; lastRunAt: string | null; runs: Array<Record<string, unknown>> }))
)

describe("TaskStateStore", () => {
  it.effect("keeps one entry per run id, sorted by timestamp, with lastRunAt the latest", () =>
    Effect.gen(function*() {
      const store = yield* TaskStateStore
      yield* store.recordRun("t1", sampleSummary("t1", 3))
      yield* store.recordRun("t1", sampleSummary("t1", 1))
      yield* store.recordRun("t1", sampleSummary("t1", 2))
      yield* store.recordRun("t1", sampleSummary("t1", 1, { approved: false }))
      const state = Option.getOrThrow(yield* stateOnDisk)
      expect(state.runs.map((run) => (run.review as { summary: string }).summary)).toEqual(["run 1", "run 2", "run 3"])
      expect((state.runs[0]!.review as { decision: { approved: boolean } }).decision.approved).toBe(false)
      expect(state.lastRunAt).toBe(sampleSummary("t1", 3).timestamp)
      const read = yield* store.read("t1")
      expect(read?.runs.map((run) => run.runId)).toEqual([1, 2, 3].map((n) => sampleSummary("t1", n).runId))
      expect(yield* store.read("nothing-yet")).toBeNull()
      expect(yield* Effect.flatMap(MemoryFileSystem, (mem) => mem.files("/repo"))).toEqual([STATE])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("fields written by other tools survive a rewrite", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const first = JSON.parse(Schema.encodeSync(RunSummaryJson)(sampleSummary("t1", 1))) as Record<string, unknown>
      yield* mem.seed(STATE, JSON.stringify({ taskId: "t1", lastRunAt: null, dashboard: { pinned: true }, runs: [{ ...first, reviewer: "ana" }] }))
      yield* (yield* TaskStateStore).recordRun("t1", sampleSummary("t1", 2))
      const state = Option.getOrThrow(yield* stateOnDisk) as unknown as Record<string, unknown> & { runs: Array<Record<string, unknown>> }
      expect(state.dashboard).toEqual({ pinned: true })
      expect(state.runs[0]!.reviewer).toBe("ana")
      expect(state.runs).toHaveLength(2)
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a snapshot that does not parse is moved aside, never overwritten, and the warning says where", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const logs = yield* captureLogs
      yield* mem.seed(STATE, "{\"taskId\": \"t1\", \"runs\": [tru")
      yield* (yield* TaskStateStore).recordRun("t1", sampleSummary("t1", 1)).pipe(Effect.provide(logs.layer))
      const files = yield* mem.files("/repo/out/t1")
      const aside = files.find((file) => file.includes(".corrupt-"))
      expect(aside).toMatch(/^\/repo\/out\/t1\/state\.json\.corrupt-1970-01-01T00-00-00-000Z-[0-9a-f]{6}$/)
      expect(yield* mem.readString(aside!)).toEqual(Option.some("{\"taskId\": \"t1\", \"runs\": [tru"))
      expect(logs.lines.some((line) => line.level === "WARN" && line.message.includes(aside!))).toBe(true)
      expect(Option.getOrThrow(yield* stateOnDisk).runs).toHaveLength(1)
      yield* mem.seed(STATE, "nope")
      const error = yield* Effect.flip((yield* TaskStateStore).read("t1"))
      expect(error).toMatchObject({ _tag: "CorruptFileError", path: STATE, movedTo: null })
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("parked summaries are merged into the snapshot and then removed", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      for (const n of [5, 4]) {
        const summary = sampleSummary("t1", n)
        yield* mem.seed(`/repo/out/t1/pending/${summary.runId}.json`, Schema.encodeSync(RunSummaryJson)(summary))
      }
      yield* (yield* TaskStateStore).recordRun("t1", sampleSummary("t1", 6))
      const state = Option.getOrThrow(yield* stateOnDisk)
      expect(state.runs.map((run) => run.runId)).toEqual([4, 5, 6].map((n) => sampleSummary("t1", n).runId))
      expect(yield* mem.files("/repo/out/t1")).toEqual([STATE])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a failing rename leaves the previous snapshot intact, no temporary file, and the lock released", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const store = yield* TaskStateStore
      yield* store.recordRun("t1", sampleSummary("t1", 1))
      const before = yield* mem.readString(STATE)
      yield* mem.failNext("rename", (path) => path.startsWith("/repo/out/t1/.state.json."), "EIO")
      const error = yield* Effect.flip(store.recordRun("t1", sampleSummary("t1", 2)))
      expect(error).toMatchObject({ _tag: "PersistenceError", operation: "rename", path: STATE })
      expect(yield* mem.readString(STATE)).toEqual(before)
      expect(yield* mem.files("/repo")).toEqual([STATE])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a legacy state.json is merged without losing or altering an entry", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const legacyText = readFileSync(legacyPath("out/legacy-demo/state.json"), "utf8")
      const legacy = JSON.parse(legacyText) as { runs: Array<{ runId: string }> }
      yield* mem.seed("/repo/out/legacy-demo/state.json", legacyText)
      yield* (yield* TaskStateStore).recordRun("legacy-demo", sampleSummary("legacy-demo", 1))
      const after = JSON.parse(Option.getOrThrow(yield* mem.readString("/repo/out/legacy-demo/state.json"))) as typeof legacy
      expect(after.runs).toHaveLength(legacy.runs.length + 1)
      for (const run of legacy.runs) expect(after.runs.find((r) => r.runId === run.runId)).toEqual(run)
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("writers in one process share lock holds (group commit) and none is lost", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const store = yield* TaskStateStore
      yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i + 1), (n) => store.recordRun("t1", sampleSummary("t1", n)), {
        concurrency: "unbounded",
        discard: true
      })
      expect(Option.getOrThrow(yield* stateOnDisk).runs).toHaveLength(20)
      // The lock is made by linking a written temp file into place: one link per hold.
      const lockTakes = (yield* mem.operations).filter((op) => op.operation === "link" && op.path === "/repo/.runs/t1.lock")
      expect(lockTakes.length).toBeGreaterThanOrEqual(1)
      expect(lockTakes.length).toBeLessThanOrEqual(3)
      expect(yield* mem.files("/repo")).toEqual([STATE])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a writer waiting for the lock parks its summary first and is done once another holder merges it", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.seed("/repo/.runs/t1.lock", JSON.stringify(LockHolder.make({ pid: 77, host: HOST, token: "x", acquired_at: "1970-01-01T00:00:00.000Z" })))
      const summary = sampleSummary("t1", 1)
      const parked = `/repo/out/t1/pending/${summary.runId}.json`
      const fiber = yield* Effect.fork((yield* TaskStateStore).recordRun("t1", summary))
      yield* TestClock.adjust(120)
      expect(Option.isSome(yield* mem.readString(parked))).toBe(true)
      // What the holder does: a durable snapshot with the parked run in it, then the parked file removed.
      yield* mem.seed(STATE, Schema.encodeSync(TaskStateSnapshotJson)(TaskStateSnapshot.make({ taskId: "t1", lastRunAt: summary.timestamp, runs: [summary] })))
      yield* Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove(parked))
      yield* TestClock.adjust(60)
      yield* Fiber.join(fiber)
      expect(Option.getOrThrow(yield* stateOnDisk).runs.map((run) => run.runId)).toEqual([summary.runId])
      expect(yield* mem.files("/repo/out")).toEqual([STATE])
    }).pipe(Effect.provide(memoryPersistence({ processes: fakeProcessInfo({ alive: [77] }) }))))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { LockHolder } from "../../src/domain/Records.js"
import { PersistenceCoordinator } from "../../src/persistence/PersistenceCoordinator.js"
import { TaskStateStore } from "../../src/persistence/TaskStateStore.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { captureLogs, fakeProcessInfo, HOST, memoryPersistence, sampleSummary } from "../support/PersistenceTestLayers.js"

const run = (n: number) => {
  const summary = sampleSummary("t1", n)
  return { taskId: "t1", runId: summary.runId, summary }
}
const summaryManifest = (runId: string) => `/repo/.runs/t1/${runId}/manifest.json`
const heldByLiveProcess = memoryPersistence({ processes: fakeProcessInfo({ alive: [77] }) })

describe("PersistenceCoordinator", () => {
  it.effect("records the snapshot and writes the run-summary manifest", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const outcome = yield* (yield* PersistenceCoordinator).handleRunCompleted(run(1))
      expect(outcome.snapshot).toBe("recorded")
      expect(yield* mem.files("/repo")).toEqual([summaryManifest(run(1).runId), "/repo/out/t1/state.json"])
      expect(Option.map(yield* mem.readString(summaryManifest(run(1).runId)), JSON.parse)).toMatchObject(
        Option.some({ runId: run(1).runId, taskId: "t1" })
      )
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("parks the summary when the lock stays held, says so, and the next recordRun merges it", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const logs = yield* captureLogs
      yield* mem.seed("/repo/.runs/t1.lock", JSON.stringify(LockHolder.make({ pid: 77, host: HOST, token: "x", acquired_at: "1970-01-01T00:00:00.000Z" })))
      const fiber = yield* Effect.fork((yield* PersistenceCoordinator).handleRunCompleted(run(1)).pipe(Effect.provide(logs.layer)))
      yield* TestClock.adjust(3000)
      const outcome = yield* Fiber.join(fiber)
      const parked = `/repo/out/t1/pending/${run(1).runId}.json`
      expect(outcome).toMatchObject({ snapshot: "parked" })
      expect(outcome.detail).toContain(parked)
      expect(logs.lines.some((line) => line.level === "WARN" && line.message.includes(parked))).toBe(true)
      expect(Option.isSome(yield* mem.readString(summaryManifest(run(1).runId)))).toBe(true)
      expect(Option.isSome(yield* mem.readString(parked))).toBe(true)

      yield* mem.seed("/repo/.runs/t1.lock", "")
      yield* mem.setMtime("/repo/.runs/t1.lock", -10 * 60_000)
      yield* (yield* TaskStateStore).recordRun("t1", sampleSummary("t1", 2))
      const state = yield* (yield* TaskStateStore).read("t1")
      expect(state?.runs.map((r) => r.runId)).toEqual([run(1).runId, run(2).runId])
      expect(yield* mem.files("/repo/out")).toEqual(["/repo/out/t1/state.json"])
    }).pipe(Effect.provide(heldByLiveProcess)))

  it.effect("the manifest is written even when the snapshot fails; the summary is parked rather than lost", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.failAlways("rename", (path) => path.includes("/.state.json."), "ENOSPC")
      const outcome = yield* (yield* PersistenceCoordinator).handleRunCompleted(run(1))
      expect(outcome.snapshot).toBe("failed")
      expect(outcome.detail).toContain("ENOSPC")
      expect(yield* mem.files("/repo")).toEqual([summaryManifest(run(1).runId), `/repo/out/t1/pending/${run(1).runId}.json`])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a manifest that cannot be written fails the call, but the snapshot is still recorded", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.failAlways("writeFile", (path) => path.startsWith(`/repo/.runs/t1/${run(1).runId}/`), "EACCES")
      yield* mem.failAlways("open", (path) => path.startsWith(`/repo/.runs/t1/${run(1).runId}/`), "EACCES")
      const error = yield* Effect.flip((yield* PersistenceCoordinator).handleRunCompleted(run(1)))
      expect(error).toMatchObject({ _tag: "PersistenceError", reason: "PermissionDenied" })
      expect(yield* mem.files("/repo")).toEqual(["/repo/out/t1/state.json"])
    }).pipe(Effect.provide(memoryPersistence())))
})

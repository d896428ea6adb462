import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, TestClock } from "effect"
import { readFileSync } from "node:fs"
import { MetricsLine } from "../../src/domain/Records.js"
import { MetricsRecorder } from "../../src/persistence/MetricsRecorder.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { captureLogs, memoryPersistence } from "../support/PersistenceTestLayers.js"
import { legacyPath } from "../support/LegacyFixtures.js"

const METRICS = "/repo/.runs/t1/metrics.json"
const line = (runId: string) =>
  MetricsLine.make({
    run_id: runId, task_id: "t1", pipeline_id: "diagnostics", status: "succeeded",
    started_at: "2026-01-01T00:00:00.000Z", completed_at: "2026-01-01T00:00:01.000Z", duration_seconds: 1,
    commands_passed: 4, commands_failed: 0, guardrails_present: true, recorded_at: "2026-01-01T00:00:01.000Z",
    artifact_path: `.runs/t1/cli/${runId}`, child_runs: 0
  })

describe("MetricsRecorder", () => {
  it.effect("appends one line per call and fsyncs it", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const metrics = yield* MetricsRecorder
      yield* metrics.append("t1", line("a"))
      yield* metrics.append("t1", line("b"))
      const text = Option.getOrThrow(yield* mem.readString(METRICS))
      expect(text.split("\n")).toHaveLength(3)
      expect((yield* metrics.read("t1")).map((l) => l.run_id)).toEqual(["a", "b"])
      expect((yield* mem.operations).filter((op) => op.operation === "sync" && op.path === METRICS)).toHaveLength(2)
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("skips a line torn by a crash with a warning, and the next append starts on a fresh line", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const metrics = yield* MetricsRecorder
      const logs = yield* captureLogs
      yield* metrics.append("t1", line("a"))
      const whole = Option.getOrThrow(yield* mem.readString(METRICS))
      yield* mem.seed(METRICS, `${whole}{"run_id":"torn","task_`)
      expect((yield* metrics.read("t1").pipe(Effect.provide(logs.layer))).map((l) => l.run_id)).toEqual(["a"])
      expect(logs.lines.some((l) => l.level === "WARN" && l.message.includes("line 2"))).toBe(true)
      yield* metrics.append("t1", line("c"))
      expect((yield* metrics.read("t1")).map((l) => l.run_id)).toEqual(["a", "c"])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("tries a failed append again, saying so, and returns the last error once the attempts run out", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const metrics = yield* MetricsRecorder
      const logs = yield* captureLogs
      yield* mem.failNext("write", (p) => p === METRICS, "EIO")
      const once = yield* Effect.fork(metrics.append("t1", line("a")).pipe(Effect.provide(logs.layer)))
      yield* TestClock.adjust("50 millis")
      yield* Fiber.join(once)
      expect((yield* metrics.read("t1")).map((l) => l.run_id)).toEqual(["a"])
      expect(logs.lines.filter((l) => l.level === "WARN").map((l) => l.message)).toEqual([
        expect.stringMatching(/metrics\.json.*\(injected\) \(attempt 1 of 3, trying again\)$/)
      ])

      yield* mem.failAlways("write", (p) => p === METRICS, "ENOSPC")
      const always = yield* Effect.fork(metrics.append("t1", line("b")).pipe(Effect.provide(logs.layer), Effect.flip))
      yield* TestClock.adjust("50 millis")
      expect(always.unsafePoll()).toBeNull()
      yield* TestClock.adjust("100 millis")
      const error = yield* Fiber.join(always)
      expect(error.message).toMatch(/injected/)
      expect(logs.lines.filter((l) => l.level === "WARN")).toHaveLength(3)
      expect((yield* mem.operations).filter((op) => op.operation === "write" && op.path === METRICS)).toHaveLength(5)
      expect((yield* metrics.read("t1")).map((l) => l.run_id)).toEqual(["a"])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("retries only the fsync of a line already written whole, so it is never written twice", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const metrics = yield* MetricsRecorder
      yield* mem.failNext("sync", (p) => p === METRICS, "EIO")
      const append = yield* Effect.fork(metrics.append("t1", line("a")).pipe(Effect.provide((yield* captureLogs).layer)))
      yield* TestClock.adjust("50 millis")
      yield* Fiber.join(append)
      expect((yield* metrics.read("t1")).map((l) => l.run_id)).toEqual(["a"])
      expect((yield* mem.operations).filter((op) => op.path === METRICS).map((op) => op.operation)).toEqual(
        expect.arrayContaining(["write", "sync", "sync"])
      )
      expect((yield* mem.operations).filter((op) => op.operation === "write" && op.path === METRICS)).toHaveLength(1)
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("reads the earlier tool's metrics and appends after them", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const metrics = yield* MetricsRecorder
      const legacy = readFileSync(legacyPath(".runs/legacy-demo/metrics.json"), "utf8")
      yield* mem.seed("/repo/.runs/legacy-demo/metrics.json", legacy)
      const before = yield* metrics.read("legacy-demo")
      expect(before).toHaveLength(legacy.trim().split("\n").length)
      yield* metrics.append("legacy-demo", line("new"))
      expect((yield* metrics.read("legacy-demo")).map((l) => l.run_id)).toEqual([...before.map((l) => l.run_id), "new"])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("no file yet reads as no lines", () =>
    Effect.gen(function*() {
      expect(yield* (yield* MetricsRecorder).read("t1")).toEqual([])
    }).pipe(Effect.provide(memoryPersistence())))
})

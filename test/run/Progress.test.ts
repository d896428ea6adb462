import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { elapsedText, makeProgress, sizeText } from "../../src/run/Progress.js"

const stage = { index: 3, total: 4, id: "test", title: "Test" }

describe("Progress", () => {
  it.effect("without a terminal, a stage still running says so every 30 s with its output so far", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const progress = makeProgress({ tty: false, write: (text) => Effect.sync(() => void lines.push(text)) })
      let bytes = 0
      const running = yield* Effect.fork(Effect.scoped(Effect.zipRight(progress.stageRunning(stage, Effect.sync(() => bytes)), Effect.never)))
      yield* TestClock.adjust("29 seconds")
      expect(lines).toEqual(["[3/4] Test (test) started\n"])
      bytes = 12.3 * 1024 * 1024
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("60 seconds")
      expect(lines.slice(1)).toEqual([
        "test: running for 30s, 12.3 MiB of output so far\n",
        "test: running for 1m0s, 12.3 MiB of output so far\n",
        "test: running for 1m30s, 12.3 MiB of output so far\n"
      ])
      yield* Fiber.interrupt(running)
      yield* TestClock.adjust("5 minutes")
      expect(lines).toHaveLength(4)
    }))

  it.effect("on a terminal the stage's line is redrawn in place instead, and config text is cleaned", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const progress = makeProgress({ tty: true, write: (text) => Effect.sync(() => void lines.push(text)), clean: (text) => text.toUpperCase() })
      yield* Effect.scoped(Effect.zipRight(progress.stageRunning(stage, Effect.succeed(0)), TestClock.adjust("1 second")))
      expect(lines.length).toBeGreaterThanOrEqual(4)
      expect(lines.every((line) => line.startsWith("\r\x1b[2K[3/4] TEST running"))).toBe(true)
      expect(lines.some((line) => line.includes("of output so far"))).toBe(false)
    }))

  it("writes durations and sizes as a person reads them", () => {
    expect([elapsedText(45_000), elapsedText(90_000), elapsedText(3_605_000)]).toEqual(["45s", "1m30s", "1h0m5s"])
    expect([sizeText(512), sizeText(4096), sizeText(12.3 * 1024 * 1024)]).toEqual(["512 B", "4.0 KiB", "12.3 MiB"])
  })
})

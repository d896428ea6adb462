import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { PendingOutput } from "../../../src/run/output/PendingOutput.js"

const bytes = (length: number, fill = 0x61): Uint8Array => new Uint8Array(length).fill(fill)
const delay = Effect.sleep("50 millis")

describe("PendingOutput", () => {
  it.effect("hands over everything pushed, in order, and skips empty chunks", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 1000)
      yield* pending.push([bytes(3, 1), new Uint8Array(0), bytes(2, 2)])
      yield* pending.push([bytes(1, 3)])
      const batch = pending.take()
      expect(batch.chunks.map((chunk) => [...chunk])).toEqual([[1, 1, 1], [2, 2], [3]])
      expect(batch).toMatchObject({ bytes: 6, ended: false })
      expect(pending.pendingBytes).toBe(0)
    }))

  it.effect("is ready at once for a whole batch, else after the delay", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 1000)
      const waiting = yield* Effect.fork(pending.ready(delay))
      yield* TestClock.adjust("1 second")
      expect(waiting.unsafePoll()).toBeNull()
      yield* pending.push([bytes(10)])
      yield* TestClock.adjust("49 millis")
      expect(waiting.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(waiting)
      expect(pending.take().bytes).toBe(10)

      const full = yield* Effect.fork(pending.ready(delay))
      yield* pending.push([bytes(100)])
      yield* Fiber.join(full)
      expect(pending.take().bytes).toBe(100)
    }))

  it.effect("is ready at once when the stream ends, and stays ready", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 1000)
      yield* pending.push([bytes(5)])
      pending.end()
      yield* pending.ready(Effect.never)
      expect(pending.take()).toMatchObject({ bytes: 5, ended: true })
      yield* pending.ready(Effect.never)
      expect(pending.take()).toMatchObject({ bytes: 0, ended: true })
    }))

  it.effect("makes the reader wait at the limit until the writer takes the batch", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 300)
      yield* pending.push([bytes(200)])
      const reader = yield* Effect.fork(pending.push([bytes(100)]))
      yield* TestClock.adjust("1 second")
      expect(reader.unsafePoll()).toBeNull()
      expect(pending.take().bytes).toBe(300)
      yield* Fiber.join(reader)
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import * as fc from "effect/FastCheck"
import { OFFER_BYTES, PendingOutput } from "../../../src/run/output/PendingOutput.js"

const bytes = (length: number, fill = 0x61): Uint8Array => new Uint8Array(length).fill(fill)

describe("PendingOutput", () => {
  it.effect("hands over everything pushed, in order, as one batch", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 1000)
      yield* pending.push(bytes(3, 1))
      yield* pending.push(new Uint8Array(0))
      yield* pending.push(bytes(2, 2))
      expect(pending.offer(bytes(1, 3))).toBe(true)
      const batch = pending.take()
      expect([...batch.bytes]).toEqual([1, 1, 1, 2, 2, 3])
      expect(batch.ended).toBe(false)
      expect(pending.pendingBytes).toBe(0)
    }))

  it.effect("keeps a taken batch intact while the next one fills the other buffer", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 1000)
      yield* pending.push(bytes(50, 1))
      const first = pending.take()
      yield* pending.push(bytes(60, 2))
      expect([...first.bytes]).toEqual(Array(50).fill(1))
      expect([...pending.take().bytes]).toEqual(Array(60).fill(2))
    }))

  it.effect("is ready at once for a whole batch, and less once flushEvery finds it waited a whole period", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 1000)
      const ticker = yield* Effect.fork(pending.flushEvery("25 millis"))
      const waiting = yield* Effect.fork(pending.ready)
      yield* TestClock.adjust("1 second")
      expect(waiting.unsafePoll()).toBeNull()
      yield* pending.push(bytes(10))
      yield* TestClock.adjust("24 millis")
      expect(waiting.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(waiting)
      expect(pending.take().bytes.length).toBe(10)

      // Arriving while the ticker sleeps, and after a take in the same period: due at the period after.
      yield* pending.push(bytes(10))
      yield* TestClock.adjust("10 millis")
      pending.take()
      yield* pending.push(bytes(20))
      const late = yield* Effect.fork(pending.ready)
      yield* TestClock.adjust("39 millis")
      expect(late.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(late)
      expect(pending.take().bytes.length).toBe(20)

      const full = yield* Effect.fork(pending.ready)
      yield* pending.push(bytes(100))
      yield* Fiber.join(full)
      expect(pending.take().bytes.length).toBe(100)
      yield* Fiber.interrupt(ticker)
    }))

  it.effect("is ready at once when the stream ends, and stays ready", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 1000)
      yield* pending.push(bytes(5))
      pending.end()
      yield* pending.ready
      expect(pending.take()).toMatchObject({ ended: true })
      yield* pending.ready
      const last = pending.take()
      expect(last.ended).toBe(true)
      expect(last.bytes.length).toBe(0)
    }))

  it.effect("makes a pushing reader wait at the limit until the writer takes the batch", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(100, 300)
      yield* pending.push(bytes(200))
      const reader = yield* Effect.fork(pending.push(bytes(100)))
      yield* TestClock.adjust("1 second")
      expect(reader.unsafePoll()).toBeNull()
      expect(pending.take().bytes.length).toBe(300)
      yield* Fiber.join(reader)
    }))

  it.effect("cuts a chunk larger than the limit and waits between the pieces", () =>
    Effect.gen(function* () {
      const pending = new PendingOutput(OFFER_BYTES, OFFER_BYTES)
      const chunk = Uint8Array.from({ length: 3 * OFFER_BYTES }, (_, i) => i % 251)
      const reader = yield* Effect.fork(pending.push(chunk))
      const taken: Array<number> = []
      for (let round = 0; round < 3; round++) {
        yield* pending.ready
        expect(pending.pendingBytes).toBe(OFFER_BYTES)
        taken.push(...pending.take().bytes)
      }
      yield* Fiber.join(reader)
      expect(taken).toEqual([...chunk])
    }))

  it("tells a pipe reader to pause at the limit and calls it back when the batch is taken", () => {
    const pending = new PendingOutput(100, 300)
    let resumed = 0
    pending.onRoom(() => resumed++)
    expect(pending.offer(bytes(299))).toBe(true)
    expect(pending.offer(bytes(10))).toBe(false)
    expect(pending.take().bytes.length).toBe(309)
    expect(resumed).toBe(1)
    expect(pending.offer(bytes(10))).toBe(true)
    pending.take()
    expect(resumed).toBe(1)
  })

  it("counts a read that landed in its read target without copying, and copies one that did not", () => {
    const pending = new PendingOutput(100, 1000)
    const target = pending.readTarget()!
    target.set([7, 8, 9])
    expect(pending.commit(target, 3)).toBe(true)
    // A read into somewhere else (the reader's own buffer) is copied in after it.
    expect(pending.commit(Uint8Array.of(1, 2, 3, 4), 2)).toBe(true)
    // A target handed out before a take lands in the old buffer, after the batch: copied, batch intact.
    const stale = pending.readTarget()!
    const batch = pending.take()
    stale.set([5, 6])
    expect(pending.commit(stale, 2)).toBe(true)
    expect([...batch.bytes]).toEqual([7, 8, 9, 1, 2])
    expect([...pending.take().bytes]).toEqual([5, 6])
  })

  it("gives no read target at the limit, and tells the reader to pause when a commit reaches it", () => {
    const pending = new PendingOutput(8, 16)
    const target = pending.readTarget()!
    target.fill(1, 0, 16)
    expect(pending.commit(target, 16)).toBe(false)
    expect(pending.readTarget()).toBeUndefined()
    expect(pending.take().bytes.length).toBe(16)
    expect(pending.readTarget()).toBeDefined()
  })

  it("hands over exactly the bytes read, offered or committed in place, whatever the sizes, never holding more than the limit and a read", () =>
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
        (reads, takes) => {
          const pending = new PendingOutput(64, 256)
          const seen: Array<number> = []
          const offered: Array<number> = []
          let peak = 0
          reads.forEach((read, i) => {
            offered.push(...read)
            // Half the reads land in the read target (no copy), the others are offered (copied).
            const target = takes[(i + 1) % takes.length] ? pending.readTarget() : undefined
            target?.set(read)
            const room = target === undefined ? pending.offer(read) : pending.commit(target, read.length)
            peak = Math.max(peak, pending.pendingBytes)
            if (!room || takes[i % takes.length]) seen.push(...pending.take().bytes)
          })
          pending.end()
          const last = pending.take()
          seen.push(...last.bytes)
          expect(last.ended).toBe(true)
          expect(seen).toEqual(offered)
          expect(peak).toBeLessThan(256 + 200)
        }
      )
    ))
})

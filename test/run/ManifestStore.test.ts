import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, FastCheck, Fiber, Ref, TestClock } from "effect"
import { PersistenceError } from "../../src/domain/Errors.js"
import { RunManifest } from "../../src/domain/RunManifest.js"
import { isoAt } from "../../src/domain/Timestamp.js"
import * as ManifestStore from "../../src/run/ManifestStore.js"
import { sampleManifest } from "../support/Manifests.js"

const manifestAt = (millis: number): RunManifest =>
  sampleManifest({ started_at: isoAt(millis), updated_at: isoAt(millis) })

const withSummary = (summary: string) => (m: RunManifest) => new RunManifest({ ...m, summary })

interface ManifestWrite {
  readonly manifest: RunManifest
  readonly final: boolean
  readonly atMillis: number
}

/** A disk that keeps every completed manifest write in order and notices overlapping writers. */
const recordingSink = (latencyMillis: (n: number) => number = () => 0) =>
  Effect.gen(function*() {
    const writes = yield* Ref.make<ReadonlyArray<ManifestWrite>>([])
    const heartbeats = yield* Ref.make<ReadonlyArray<string>>([])
    const started = yield* Ref.make(0)
    const inFlight = yield* Ref.make(0)
    const maxInFlight = yield* Ref.make(0)
    const sink: ManifestStore.ManifestSink = {
      writeManifest: (manifest, { final }) =>
        Effect.gen(function*() {
          const n = yield* Ref.getAndUpdate(started, (k) => k + 1)
          const now = yield* Ref.updateAndGet(inFlight, (k) => k + 1)
          yield* Ref.update(maxInFlight, (k) => Math.max(k, now))
          yield* Effect.sleep(latencyMillis(n))
          const atMillis = yield* Clock.currentTimeMillis
          yield* Ref.update(writes, (all) => [...all, { manifest, final, atMillis }])
        }).pipe(Effect.ensuring(Ref.update(inFlight, (k) => k - 1))),
      writeHeartbeat: (iso) => Ref.update(heartbeats, (all) => [...all, iso])
    }
    return { sink, writes, heartbeats, maxInFlight }
  })

describe("ManifestStore", () => {
  it.effect("update writes the change at once, stamped with Clock time", () =>
    Effect.gen(function*() {
      const { sink, writes } = yield* recordingSink()
      const store = yield* ManifestStore.make(manifestAt(0), sink)
      yield* TestClock.adjust("7 seconds")
      const written = yield* store.update(withSummary("stage one"))
      expect(written.summary).toBe("stage one")
      expect(written.updated_at).toBe(isoAt(7000))
      // The write counts as a sign of life: a beat that needs 7 s of quiet finds none.
      expect(yield* store.beat({ quietMillis: 7000 })).toBe("heartbeat-only")
      const all = yield* Ref.get(writes)
      expect(all.map((w) => [w.manifest.summary, w.manifest.updated_at, w.final])).toEqual([
        ["stage one", isoAt(7000), false]
      ])
    }))

  it.effect("modify changes memory only; the next write carries it", () =>
    Effect.gen(function*() {
      const { sink, writes } = yield* recordingSink()
      const store = yield* ManifestStore.make(manifestAt(0), sink)
      yield* store.modify((m) => new RunManifest({ ...m, status_detail: "resuming" }))
      expect(yield* Ref.get(writes)).toEqual([])
      expect((yield* store.current).status_detail).toBe("resuming")
      yield* store.update(withSummary("x"))
      const [only] = yield* Ref.get(writes)
      expect(only?.manifest.status_detail).toBe("resuming")
      expect(only?.manifest.summary).toBe("x")
    }))

  it.effect("a failed write is reported, the change stays in memory and does not count as a write", () =>
    Effect.gen(function*() {
      const { sink } = yield* recordingSink()
      const failing: ManifestStore.ManifestSink = {
        ...sink,
        writeManifest: () =>
          Effect.fail(
            new PersistenceError({ operation: "write", path: "manifest.json", reason: "Unknown", message: "EIO" })
          )
      }
      const store = yield* ManifestStore.make(manifestAt(0), failing)
      yield* TestClock.adjust("3 seconds")
      const error = yield* Effect.flip(store.update(withSummary("lost?")))
      expect(error._tag).toBe("PersistenceError")
      expect((yield* store.current).summary).toBe("lost?")
      // Still 3 s without a manifest write: the beat tries one (and meets the failing disk).
      expect((yield* Effect.flip(store.beat({ quietMillis: 3000 })))._tag).toBe("PersistenceError")
    }))

  it.effect("flush writes final: true once per call, after an in-flight write, and stops the heartbeat", () =>
    Effect.gen(function*() {
      const { sink, writes, heartbeats, maxInFlight } = yield* recordingSink(() => 3000)
      const store = yield* ManifestStore.make(manifestAt(0), sink)
      const slow = yield* Effect.fork(store.update(withSummary("slow stage write")))
      yield* TestClock.adjust("1 second")
      const flushing = yield* Effect.fork(store.flush)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(slow)
      yield* Fiber.join(flushing)
      expect(yield* store.beat({ quietMillis: 0 })).toBe("finalized")
      const all = yield* Ref.get(writes)
      expect(all.map((w) => [w.final, w.atMillis])).toEqual([[false, 3000], [true, 6000]])
      expect(all[1]?.manifest.summary).toBe("slow stage write")
      expect(yield* Ref.get(maxInFlight)).toBe(1)
      expect(yield* Ref.get(heartbeats)).toEqual([])
    }))

  it.effect("beat writes the manifest only after a quiet period, and keeps heartbeat_at", () =>
    Effect.gen(function*() {
      const { sink, writes, heartbeats } = yield* recordingSink()
      const store = yield* ManifestStore.make(manifestAt(0), sink)
      yield* TestClock.adjust("10 seconds")
      expect(yield* store.beat({ quietMillis: 30_000 })).toBe("heartbeat-only")
      yield* TestClock.adjust("20 seconds")
      expect(yield* store.beat({ quietMillis: 30_000 })).toBe("manifest-written")
      yield* TestClock.adjust("5 seconds")
      expect(yield* store.beat({ quietMillis: 30_000 })).toBe("heartbeat-only")
      expect(yield* Ref.get(heartbeats)).toEqual([isoAt(10_000), isoAt(30_000), isoAt(35_000)])
      const all = yield* Ref.get(writes)
      expect(all.map((w) => w.manifest.heartbeat_at)).toEqual([isoAt(30_000)])
      expect((yield* store.current).heartbeat_at).toBe(isoAt(35_000))
    }))

  // Random stage writes (some in memory only), heartbeat ticks and disk latencies, all concurrent: the
  // disk only ever moves forward, and after a write completes the disk holds that state or a newer one.
  it.effect.prop(
    "the manifest on disk is never older than the last completed write",
    {
      actors: FastCheck.array(
        FastCheck.array(
          FastCheck.record({
            kind: FastCheck.constantFrom("update", "modify", "beat"),
            gapMillis: FastCheck.integer({ min: 0, max: 4000 })
          }),
          { minLength: 1, maxLength: 12 }
        ),
        { minLength: 1, maxLength: 4 }
      ),
      latencies: FastCheck.array(FastCheck.integer({ min: 0, max: 2500 }), { minLength: 1, maxLength: 16 })
    },
    ({ actors, latencies }) =>
      Effect.gen(function*() {
        const { sink, writes, maxInFlight } = yield* recordingSink((n) => latencies[n % latencies.length] ?? 0)
        const store = yield* ManifestStore.make(manifestAt(0), sink)
        const counter = { value: 0 }
        const violations = yield* Ref.make<ReadonlyArray<string>>([])
        const diskSeq = Effect.map(Ref.get(writes), (all) => Number(all.at(-1)?.manifest.summary ?? "0"))
        // The number is drawn inside `f`, so it follows the order in which the store applies changes.
        const next = (m: RunManifest) => withSummary(String(++counter.value))(m)

        const act = (kind: string) =>
          Effect.gen(function*() {
            if (kind === "beat") {
              yield* store.beat({ quietMillis: 3000 })
            } else if (kind === "modify") {
              yield* store.modify(next)
            } else {
              const mine = Number((yield* store.update(next)).summary)
              const onDisk = yield* diskSeq
              if (onDisk < mine) {
                yield* Ref.update(violations, (v) => [...v, `update ${mine} completed but the disk holds ${onDisk}`])
              }
            }
          })

        const fibers = yield* Effect.forEach(actors, (steps) =>
          Effect.fork(Effect.forEach(steps, ({ kind, gapMillis }) =>
            Effect.sleep(gapMillis).pipe(Effect.zipRight(act(kind)))
          )))
        const flushed = yield* Effect.fork(Effect.forEach(fibers, Fiber.join).pipe(Effect.zipRight(store.flush)))
        yield* TestClock.adjust("10 minutes")
        yield* Fiber.join(flushed)

        const all = yield* Ref.get(writes)
        const seqs = all.map((w) => Number(w.manifest.summary ?? "0"))
        const stamps = all.map((w) => Date.parse(w.manifest.updated_at))
        for (let i = 1; i < all.length; i++) {
          expect(seqs[i]).toBeGreaterThanOrEqual(seqs[i - 1] ?? 0)
          expect(stamps[i]).toBeGreaterThanOrEqual(stamps[i - 1] ?? 0)
        }
        expect(yield* Ref.get(violations)).toEqual([])
        expect(yield* Ref.get(maxInFlight)).toBeLessThanOrEqual(1)
        expect(all.at(-1)?.final).toBe(true)
        expect(seqs.at(-1)).toBe(counter.value)
      }),
    { fastCheck: { numRuns: 30 } }
  )
})

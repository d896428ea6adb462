import { Clock, Effect, Ref } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { RunManifest } from "../domain/RunManifest.js"
import { isoAt } from "../domain/Timestamp.js"

export interface ManifestSink {
  readonly writeManifest: (
    manifest: RunManifest,
    options: { readonly final: boolean }
  ) => Effect.Effect<void, PersistenceError>
  /** Writes `${isoTimestamp}\n` to `.heartbeat`. */
  readonly writeHeartbeat: (isoTimestamp: string) => Effect.Effect<void, PersistenceError>
}

export type BeatOutcome = "heartbeat-only" | "manifest-written" | "finalized"

export interface ManifestStore {
  /** The newest state, possibly ahead of the file until the next write. */
  readonly current: Effect.Effect<RunManifest>
  /** Serialised with every other write; a failed write leaves the change in memory for the next one. */
  readonly update: (f: (manifest: RunManifest) => RunManifest) => Effect.Effect<RunManifest, PersistenceError>
  /** The next write of any kind carries the change. */
  readonly modify: (f: (manifest: RunManifest) => RunManifest) => Effect.Effect<void>
  // The manifest is written only when no write of any kind (nor a beat's) succeeded for `quietMillis`;
  // nothing once `flush` began. Either file failing fails the tick, the other is still attempted.
  readonly beat: (options: { readonly quietMillis: number }) => Effect.Effect<BeatOutcome, PersistenceError>
  /** Exactly one durable write, never interleaved, not interruptible once started; then `beat` writes nothing. */
  readonly flush: Effect.Effect<void, PersistenceError>
}

const stamped = (manifest: RunManifest, millis: number): RunManifest =>
  new RunManifest({ ...manifest, updated_at: isoAt(millis) }, true)

export const make = (initial: RunManifest, sink: ManifestSink): Effect.Effect<ManifestStore> =>
  Effect.gen(function*() {
    const createdAt = yield* Clock.currentTimeMillis
    const state = yield* Ref.make(initial)
    const lastWritten = yield* Ref.make(createdAt)
    const lastBeatWritten = yield* Ref.make(createdAt)
    const finalized = yield* Ref.make(false)
    // One permit: file contents always follow the order of the states they carry.
    const writeLock = yield* Effect.makeSemaphore(1)

    // Must run under `writeLock`: stamps the newest state, writes it, and records when.
    const writeNewest = (options: { readonly final: boolean }) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const next = yield* Ref.updateAndGet(state, (manifest) => stamped(manifest, now))
        yield* sink.writeManifest(next, options)
        yield* Ref.set(lastWritten, now)
        return next
      })

    const update = Effect.fnUntraced(function*(f: (manifest: RunManifest) => RunManifest) {
      return yield* writeLock.withPermits(1)(
        Ref.update(state, f).pipe(Effect.zipRight(writeNewest({ final: false })))
      )
    })

    const modify = Effect.fnUntraced(function*(f: (manifest: RunManifest) => RunManifest) {
      yield* Ref.update(state, f)
    })

    const beatManifest = (quietMillis: number) =>
      writeLock.withPermits(1)(
        Effect.gen(function*() {
          if (yield* Ref.get(finalized)) return "finalized" as const
          const now = yield* Clock.currentTimeMillis
          const quiet = now - (yield* Ref.get(lastWritten))
          const sinceBeat = now - (yield* Ref.get(lastBeatWritten))
          if (quiet < quietMillis || sinceBeat < quietMillis) return "heartbeat-only" as const
          yield* writeNewest({ final: false })
          yield* Ref.set(lastBeatWritten, now)
          return "manifest-written" as const
        })
      )

    const beat = Effect.fnUntraced(function*(options: { readonly quietMillis: number }) {
      if (yield* Ref.get(finalized)) return "finalized" as const
      const iso = isoAt(yield* Clock.currentTimeMillis)
      yield* Ref.update(state, (manifest) => new RunManifest({ ...manifest, heartbeat_at: iso }, true))
      // `.heartbeat` has one writer, the heartbeat fiber, so it need not wait behind manifest writes.
      const [, outcome] = yield* Effect.validate(sink.writeHeartbeat(iso), beatManifest(options.quietMillis))
      return outcome
    })

    const flush = writeLock.withPermits(1)(
      Ref.set(finalized, true).pipe(Effect.zipRight(writeNewest({ final: true })))
    ).pipe(Effect.asVoid, Effect.uninterruptible, Effect.withSpan("ManifestStore.flush"))

    return {
      current: Ref.get(state),
      update,
      modify,
      beat,
      flush
    } satisfies ManifestStore
  })

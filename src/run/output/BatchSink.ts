import { Effect, Sink } from "effect"

/**
 * A Sink of byte batches, written as a step per batch and a result at the end, so that several can take
 * one pass over a stream. `Sink.zipWith({ concurrent: true })` would read ahead through a PubSub, and a
 * batch is only valid until the next one is pulled; here each batch goes through every step in turn.
 */
export interface BatchSink<A, E = never> {
  readonly step: (batch: Uint8Array) => Effect.Effect<void, E>
  readonly done: Effect.Effect<A, E>
}

export const toSink = <A, E>(make: () => BatchSink<A, E>): Sink.Sink<A, Uint8Array, never, E> =>
  Sink.suspend(() => {
    const sink = make()
    return Sink.forEach(sink.step).pipe(Sink.mapEffect(() => sink.done))
  })

/** Both sinks over one pass: each batch goes to `first`, then to `second`, before the next is pulled. */
export const both = <A, E, B, E2>(first: () => BatchSink<A, E>, second: () => BatchSink<B, E2>): Sink.Sink<readonly [A, B], Uint8Array, never, E | E2> =>
  toSink(() => {
    const a = first()
    const b = second()
    return { step: (batch) => Effect.zipRight(a.step(batch), b.step(batch)), done: Effect.zip(a.done, b.done) }
  })

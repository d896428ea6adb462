import { Effect, Sink } from "effect"

// `Sink.zipWith({ concurrent: true })` would read ahead through a PubSub, yet a batch is only valid until
// the next pull; so several sinks share one pass, each batch going through every step in turn.
export interface BatchSink<A, E = never> {
  readonly step: (batch: Uint8Array) => Effect.Effect<void, E>
  readonly done: Effect.Effect<A, E>
}

export const toSink = <A, E>(make: () => BatchSink<A, E>): Sink.Sink<A, Uint8Array, never, E> =>
  Sink.suspend(() => {
    const sink = make()
    return Sink.forEach(sink.step).pipe(Sink.mapEffect(() => sink.done))
  })

export const both = <A, E, B, E2>(first: () => BatchSink<A, E>, second: () => BatchSink<B, E2>): Sink.Sink<readonly [A, B], Uint8Array, never, E | E2> =>
  toSink(() => {
    const a = first()
    const b = second()
    return { step: (batch) => Effect.zipRight(a.step(batch), b.step(batch)), done: Effect.zip(a.done, b.done) }
  })

import { Context, Deferred, Effect, Layer, Option } from "effect"

export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const
export type StopSignal = typeof STOP_SIGNALS[number]

/** 128 + the signal's number (CONTRACT §2). */
export const exitCodeFor = (signal: StopSignal): number => ({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 })[signal]

export const isStopSignal = (text: string | undefined): text is StopSignal => STOP_SIGNALS.some((signal) => signal === text)

// A running stage is stopped the way its timeout stops it, so a cancelled run is still an answer:
// marked `cancelled`, flushed, exit 130 / 143 / 129.
export interface ShutdownShape {
  readonly requested: Effect.Effect<StopSignal>
  /** The signal already received, if any, without waiting. */
  readonly received: Effect.Effect<Option.Option<StopSignal>>
  readonly request: (signal: StopSignal) => Effect.Effect<void>
}

export class Shutdown extends Context.Tag("codex-orchestrator/Shutdown")<Shutdown, ShutdownShape>() {
  static readonly make: Effect.Effect<ShutdownShape> = Effect.map(
    Deferred.make<StopSignal>(),
    (deferred) => ({
      requested: Deferred.await(deferred),
      received: Effect.flatMap(Deferred.poll(deferred), Option.match({
        onNone: () => Effect.succeedNone,
        onSome: Effect.asSome
      })),
      request: (signal) => Effect.asVoid(Deferred.succeed(deferred, signal))
    })
  )

  static readonly layer: Layer.Layer<Shutdown> = Layer.effect(Shutdown, Shutdown.make)
}

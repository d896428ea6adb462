import { Context, Deferred, Effect, Layer, Option } from "effect"

export type StopSignal = "SIGINT" | "SIGTERM"

export const exitCodeFor = (signal: StopSignal): number => (signal === "SIGINT" ? 130 : 143)

/**
 * A request from outside to stop the run (Ctrl-C, SIGTERM). The engine races its stages against it so
 * a cancelled run is still an answer: marked `cancelled`, flushed, exit 130 / 143.
 */
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

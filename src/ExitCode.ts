import { Context, Effect, Layer, Ref } from "effect"

/** The process exit code a command decided on; `bin.ts` reads it after the command returns. */
export class ExitCode extends Context.Tag("codex-orchestrator/ExitCode")<ExitCode, Ref.Ref<number>>() {
  static readonly layer: Layer.Layer<ExitCode> = Layer.effect(ExitCode, Ref.make(0))
  static readonly set = (code: number) => Effect.flatMap(ExitCode, (ref) => Ref.set(ref, code))
  static readonly get = Effect.flatMap(ExitCode, Ref.get)
}

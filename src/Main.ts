import * as LocalFileSystem from "./platform/LocalFileSystem.js"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Console, Effect, Layer } from "effect"
import { baseLayer } from "./AppLayer.js"
import { type CliProgram, main } from "./Cli.js"
import { stripTerminalControls } from "./domain/TerminalText.js"
import * as Logging from "./Logging.js"
import { Progress } from "./run/Progress.js"
import { exitCodeFor, Shutdown, STOP_SIGNALS, type StopSignal } from "./run/Shutdown.js"
import { Settings } from "./Settings.js"

/** The only module that runs effects and the only import of platform-node. */
export const runMain = (cli: CliProgram): void => {
  const shutdown = Effect.runSync(Shutdown.make)
  let signalled: StopSignal | undefined
  const onSignal = (signal: StopSignal) => {
    // The first signal asks the run to stop its stage and flush; a second one means "now".
    if (signalled !== undefined) process.exit(exitCodeFor(signalled))
    signalled = signal
    Effect.runFork(shutdown.request(signal))
  }
  for (const signal of STOP_SIGNALS) process.on(signal, () => onSignal(signal))

  // Colour only for a person at a terminal who did not ask for none (NO_COLOR).
  const colour = process.stdout.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""
  const plainConsole = Effect.map(Console.consoleWith(Effect.succeed), (console): Console.Console => ({
    ...console,
    log: (...args) => console.log(...args.map((arg) => (typeof arg === "string" ? stripTerminalControls(arg) : arg)))
  }))

  const base = baseLayer({
    // What @effect/cli and the program use of the platform, and no more (no CommandExecutor, no workers).
    platform: Layer.mergeAll(LocalFileSystem.layer, NodePath.layer, NodeTerminal.layer),
    settings: Settings.fromEnv,
    shutdown: Layer.succeed(Shutdown, shutdown),
    progress: Progress.layer
  })

  const program = Effect.gen(function*() {
    const run = main(process.argv.slice(2), cli)
    return yield* colour ? run : Effect.flatMap(plainConsole, (console) => Effect.withConsole(run, console))
  }).pipe(
    Effect.provide(Logging.layer((line) => void process.stderr.write(line))),
    Effect.provide(base)
  )

  Effect.runPromise(program).then(
    (code) => process.stdout.write("", () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`codex-orchestrator: ${error instanceof Error ? error.message : String(error)}\n`)
      process.exit(1)
    }
  )
}

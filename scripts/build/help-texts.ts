// What @effect/cli prints for each help and version request of the built CLI, rendered at build time
// so that dist/bin.cjs answers them without loading the program (scripts/build.mjs writes help.json).
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Console, Effect } from "effect"
import { baseLayer } from "../../src/AppLayer.js"
import { cliConfig, NAME, SUBCOMMANDS } from "../../src/Cli.js"
import { fullCli } from "../../src/FullCli.js"
import { stripTerminalControls } from "../../src/domain/TerminalText.js"
import { Progress } from "../../src/run/Progress.js"
import { Shutdown } from "../../src/run/Shutdown.js"
import { NodeStageSpawner } from "../../src/run/stage/NodeStageSpawner.js"
import { Settings } from "../../src/Settings.js"

/** The argv of every request answered from help.json, by its key. */
export const HELP_REQUESTS: Readonly<Record<string, ReadonlyArray<string>>> = {
  "": ["--help"],
  "--version": ["--version"],
  ...Object.fromEntries(SUBCOMMANDS.map((name) => [name, [name, "--help"]]))
}

/** Exactly what the CLI's parser writes to stdout for `argv`: its Console.log calls, each with its newline. */
export const printedBy = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const capture = yield* Console.consoleWith((console) =>
      Effect.succeed<Console.Console>({ ...console, log: (...args) => Effect.sync(() => void out.push(`${args.map(String).join(" ")}\n`)) }))
    const cli = fullCli(NodeStageSpawner)
    // The base is provided for the types only: answering help builds and runs nothing of it.
    const base = baseLayer({ platform: NodeContext.layer, settings: Settings.fromEnv, shutdown: Shutdown.layer, progress: Progress.silent })
    yield* cli(["node", NAME, ...argv]).pipe(Effect.withConsole(capture), Effect.provide(cliConfig), Effect.provide(base))
    return out.join("")
  })

if (process.argv[2] === "--print") {
  const texts: Record<string, { readonly ansi: string; readonly plain: string }> = {}
  for (const [key, argv] of Object.entries(HELP_REQUESTS)) {
    const ansi = await Effect.runPromise(printedBy(argv))
    texts[key] = { ansi, plain: stripTerminalControls(ansi) }
  }
  process.stdout.write(JSON.stringify(texts))
}

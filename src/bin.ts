import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { appLayer } from "./AppLayer.js"
import { main } from "./Cli.js"
import { Progress } from "./run/Progress.js"
import { exitCodeFor, Shutdown, type StopSignal } from "./run/Shutdown.js"
import { Settings } from "./Settings.js"

const shutdown = Effect.runSync(Shutdown.make)
let signalled: StopSignal | undefined
const onSignal = (signal: StopSignal) => {
  // The first signal asks the run to stop and flush; a second one means "now".
  if (signalled !== undefined) process.exit(exitCodeFor(signalled))
  signalled = signal
  Effect.runFork(shutdown.request(signal))
}
process.on("SIGINT", () => onSignal("SIGINT"))
process.on("SIGTERM", () => onSignal("SIGTERM"))

const logLevel = process.env["CODEX_ORCHESTRATOR_LOG"] === "debug" ? LogLevel.Debug : LogLevel.Info
const logging = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

const edges = Layer.mergeAll(Settings.fromEnv, Layer.succeed(Shutdown, shutdown), Progress.Live)

const program = main(process.argv.slice(2)).pipe(
  Effect.provide(appLayer(NodeContext.layer, edges)),
  Effect.provide(logging),
  Logger.withMinimumLogLevel(logLevel)
)

Effect.runPromise(program).then(
  (code) => process.stdout.write("", () => process.exit(code)),
  (error: unknown) => {
    process.stderr.write(`codex-orchestrator: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
)

// `status` and `history` on their own (dist/inspect.cjs): they read runs and run nothing.
import { Command } from "@effect/cli"
import { DESCRIPTION, NAME, VERSION } from "../Cli.js"
import { stored } from "../CommandLayers.js"
import { history } from "../commands/history.js"
import { status } from "../commands/status.js"
import { runMain } from "../Main.js"

runMain(Command.run(
  Command.make(NAME).pipe(Command.withDescription(DESCRIPTION), Command.withSubcommands([status.pipe(Command.provide(stored)), history.pipe(Command.provide(stored))])),
  { name: NAME, version: VERSION }
))

// `plan` on its own (dist/plan.cjs): it reads the config and nothing of the runs.
import { Command } from "@effect/cli"
import { DESCRIPTION, NAME, VERSION } from "../Cli.js"
import { plan } from "../commands/plan.js"
import { runMain } from "../Main.js"

runMain(Command.run(Command.make(NAME).pipe(Command.withDescription(DESCRIPTION), Command.withSubcommands([plan])), { name: NAME, version: VERSION }))

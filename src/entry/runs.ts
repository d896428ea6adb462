// `start` and `resume` on their own (dist/runs.cjs): dist/bin.cjs loads this for them.
import { Command } from "@effect/cli"
import { DESCRIPTION, NAME, VERSION } from "../Cli.js"
import { runs } from "../CommandLayers.js"
import { resume } from "../commands/resume.js"
import { start } from "../commands/start.js"
import { runMain } from "../Main.js"
import { NodeStageSpawner } from "../run/stage/NodeStageSpawner.js"

const running = runs(NodeStageSpawner)
runMain(Command.run(
  Command.make(NAME).pipe(Command.withDescription(DESCRIPTION), Command.withSubcommands([start.pipe(Command.provide(running)), resume.pipe(Command.provide(running))])),
  { name: NAME, version: VERSION }
))

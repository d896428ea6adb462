import { Command } from "@effect/cli"
import type { FileSystem } from "@effect/platform/FileSystem"
import { type CliProgram, DESCRIPTION, NAME, VERSION } from "./Cli.js"
import { runs, stored } from "./CommandLayers.js"
import { history } from "./commands/history.js"
import { plan } from "./commands/plan.js"
import { resume } from "./commands/resume.js"
import { start } from "./commands/start.js"
import { status } from "./commands/status.js"
import type { StageSpawner } from "./run/stage/StageSpawner.js"
import type { Layer } from "effect"

export const fullCli = (spawner: Layer.Layer<StageSpawner, never, FileSystem>): CliProgram => {
  const running = runs(spawner)
  return Command.run(
    Command.make(NAME).pipe(
      Command.withDescription(DESCRIPTION),
      Command.withSubcommands([
        start.pipe(Command.provide(running)),
        plan,
        status.pipe(Command.provide(stored)),
        resume.pipe(Command.provide(running)),
        history.pipe(Command.provide(stored))
      ])
    ),
    { name: NAME, version: VERSION }
  )
}

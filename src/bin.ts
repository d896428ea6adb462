import { fullCli } from "./FullCli.js"
import { runMain } from "./Main.js"
import { NodeStageSpawner } from "./run/stage/NodeStageSpawner.js"

runMain(fullCli(NodeStageSpawner))

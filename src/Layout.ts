import * as path from "node:path"
import { stageFileStem } from "./domain/Ids.js"
import type { SettingsShape } from "./Settings.js"

/** Every path of CONTRACT §1, absolute, plus the repo-relative form written inside JSON. */
export const relativeToRoot = (settings: SettingsShape, absolute: string): string =>
  path.relative(settings.root, absolute).split(path.sep).join("/")

export const taskPaths = (settings: SettingsShape, taskId: string) => ({
  taskRunsDir: path.join(settings.runsDir, taskId),
  metrics: path.join(settings.runsDir, taskId, "metrics.json"),
  lock: path.join(settings.runsDir, `${taskId}.lock`),
  stateDir: path.join(settings.outDir, taskId),
  state: path.join(settings.outDir, taskId, "state.json"),
  pendingDir: path.join(settings.outDir, taskId, "pending"),
  /** A run summary waiting for the next holder of the task lock (CONTRACT §8). */
  parkedSummary: (runId: string) => path.join(settings.outDir, taskId, "pending", `${runId}.json`),
  pendingHistoryDir: path.join(settings.outDir, taskId, "pending-history")
})

export const runPaths = (settings: SettingsShape, taskId: string, runId: string) => {
  const artifactRoot = path.join(settings.runsDir, taskId, "cli", runId)
  const compatDir = path.join(settings.runsDir, taskId, "mcp", runId)
  return {
    artifactRoot,
    manifest: path.join(artifactRoot, "manifest.json"),
    heartbeat: path.join(artifactRoot, ".heartbeat"),
    /** Who writes this run now: one live owner at a time (CONTRACT §4). */
    owner: path.join(artifactRoot, ".owner"),
    /** The running stage's process group, so a run whose orchestrator died can stop what it left. */
    stageProcess: path.join(artifactRoot, ".stage-process"),
    resumeToken: path.join(artifactRoot, ".resume-token"),
    runnerLog: path.join(artifactRoot, "runner.ndjson"),
    runSummary: path.join(artifactRoot, "run-summary.json"),
    commandsDir: path.join(artifactRoot, "commands"),
    errorsDir: path.join(artifactRoot, "errors"),
    commandLog: (index: number, id: string) => path.join(artifactRoot, "commands", `${stageFileStem(index, id)}.ndjson`),
    errorFile: (index: number, id: string) => path.join(artifactRoot, "errors", `${stageFileStem(index, id)}.json`),
    summaryManifest: path.join(settings.runsDir, taskId, runId, "manifest.json"),
    compatDir,
    compatManifest: path.join(compatDir, "manifest.json"),
    localMcpManifest: path.join(settings.runsDir, "local-mcp", runId, "manifest.json")
  }
}
export type RunPaths = ReturnType<typeof runPaths>
export type TaskPaths = ReturnType<typeof taskPaths>

import { Effect } from "effect"
import type { Pipeline, Stage } from "../domain/ProjectConfig.js"
import { randomBytes } from "node:crypto"
import { CommandEntry, RunManifest } from "../domain/RunManifest.js"
import type { RunPaths } from "../Layout.js"
import type { PersistenceError } from "../domain/Errors.js"
import type { NdjsonLog } from "../persistence/NdjsonLog.js"
import type { ManifestStore } from "./ManifestStore.js"
import type { StopSignal } from "./Shutdown.js"

export interface RunContext {
  readonly taskId: string
  readonly runId: string
  readonly paths: RunPaths
  readonly pipeline: Pipeline
  readonly approvalPolicy: string | null
  readonly store: ManifestStore
  /** runner.ndjson, opened by the first stage and kept open for the rest of the run. */
  readonly runnerLog: Effect.Effect<NdjsonLog, PersistenceError>
  /** Summary lines for the streams whose capture overflowed. */
  readonly truncation: Array<string>
}

export type StageResult =
  | { readonly _tag: "Passed" }
  | { readonly _tag: "Failed" }
  | { readonly _tag: "Stopped"; readonly signal: StopSignal }

export const freshEntry = (stage: Stage, index: number, paths: RunPaths, rel: (absolute: string) => string): CommandEntry =>
  CommandEntry.make({
    index,
    id: stage.id,
    title: stage.title,
    command: stage.kind === "command" ? stage.command : null,
    kind: stage.kind,
    status: "pending",
    started_at: null,
    completed_at: null,
    exit_code: null,
    summary: null,
    log_path: stage.kind === "command" ? rel(paths.commandLog(index, stage.id)) : null,
    error_file: null,
    sub_run_id: null
  })

// The engine's changes are checked by the compiler, so the Schema's check of the whole manifest (every
// entry, for each stage's change) is skipped; what is decoded from disk is checked.
export const withFields = (manifest: RunManifest, change: Partial<RunManifest>): RunManifest => new RunManifest({ ...manifest, ...change }, true)

export const setEntry = (index: number, change: Partial<CommandEntry>) => (manifest: RunManifest): RunManifest =>
  withFields(manifest, {
    commands: manifest.commands.map((entry) => (entry.index === index ? new CommandEntry({ ...entry, ...change }, true) : entry))
  })

/** A failed write leaves the change in memory for the next write to carry; only the final write is fatal. */
export const record = (ctx: RunContext, change: (manifest: RunManifest) => RunManifest) =>
  ctx.store.update(change).pipe(
    Effect.asVoid,
    Effect.catchAll((error) => Effect.logWarning(`manifest not written, the next write will carry the change: ${error.message}`))
  )

/** The write that follows at once carries it, so a stage costs one manifest write, not two. */
export const recordEnd = (ctx: RunContext, change: (manifest: RunManifest) => RunManifest) => ctx.store.modify(change)

/** The manifest a new run starts with (CONTRACT §3): every stage pending, a fresh resume token. */
export const newManifest = (options: {
  readonly taskId: string
  readonly pipeline: Pipeline
  readonly paths: RunPaths
  readonly runId: string
  readonly startedAt: string
  readonly parentRunId?: string | null | undefined
  readonly approvalPolicy?: string | null | undefined
  readonly rel: (absolute: string) => string
}): RunManifest => {
  const { paths, pipeline, rel, startedAt } = options
  return RunManifest.make({
    version: 1,
    task_id: options.taskId,
    task_slug: options.taskId,
    run_id: options.runId,
    parent_run_id: options.parentRunId ?? null,
    pipeline_id: pipeline.id,
    pipeline_title: pipeline.title,
    runner: "codex-cli",
    approval_policy: options.approvalPolicy ?? null,
    status: "in_progress",
    status_detail: null,
    started_at: startedAt,
    completed_at: null,
    updated_at: startedAt,
    heartbeat_at: startedAt,
    heartbeat_interval_seconds: 5,
    heartbeat_stale_after_seconds: 30,
    artifact_root: rel(paths.artifactRoot),
    compat_path: rel(paths.compatDir),
    log_path: rel(paths.runnerLog),
    summary: null,
    metrics_recorded: false,
    resume_token: randomBytes(32).toString("hex"),
    resume_events: [],
    approvals: [],
    commands: pipeline.stages.map((stage, i) => freshEntry(stage, i + 1, paths, rel)),
    child_runs: [],
    run_summary_path: null
  })
}

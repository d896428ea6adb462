import { Schema } from "effect"

// CONTRACT §3. Consumers validate it strictly, so decoding refuses unknown keys (`strictParse`); fields
// the earlier tool could leave out decode to their empty value and are always written back.
const nullable = <S extends Schema.Schema.Any>(schema: S) =>
  Schema.optionalWith(Schema.NullOr(schema), { default: () => null })

const list = <S extends Schema.Schema.Any>(schema: S) =>
  Schema.optionalWith(Schema.Array(schema), { default: () => [] })

export const RunStatus = Schema.Literal("queued", "in_progress", "succeeded", "failed", "cancelled")
export type RunStatus = typeof RunStatus.Type

export const isTerminal = (status: RunStatus): boolean =>
  status === "succeeded" || status === "failed" || status === "cancelled"

export const CommandStatus = Schema.Literal("pending", "running", "succeeded", "failed", "skipped")
export type CommandStatus = typeof CommandStatus.Type

export const StageKind = Schema.Literal("command", "subpipeline")
export type StageKind = typeof StageKind.Type

export class CommandEntry extends Schema.Class<CommandEntry>("CommandEntry")({
  index: Schema.Int,
  id: Schema.String,
  title: Schema.String,
  command: nullable(Schema.String),
  kind: Schema.optionalWith(StageKind, { default: () => "command" as const }),
  status: CommandStatus,
  started_at: nullable(Schema.String),
  completed_at: nullable(Schema.String),
  exit_code: nullable(Schema.Int),
  summary: nullable(Schema.String),
  log_path: nullable(Schema.String),
  error_file: nullable(Schema.String),
  sub_run_id: nullable(Schema.String)
}) {}

export class ResumeEvent extends Schema.Class<ResumeEvent>("ResumeEvent")({
  timestamp: Schema.String,
  actor: Schema.String,
  reason: Schema.String,
  outcome: Schema.Literal("accepted", "blocked"),
  detail: Schema.optional(Schema.String)
}) {}

export class Approval extends Schema.Class<Approval>("Approval")({
  actor: Schema.String,
  timestamp: Schema.String,
  reason: Schema.optional(Schema.String)
}) {}

export class ChildRunRef extends Schema.Class<ChildRunRef>("ChildRunRef")({
  run_id: Schema.String,
  pipeline_id: Schema.String,
  status: RunStatus,
  manifest: Schema.String
}) {}

export class RunManifest extends Schema.Class<RunManifest>("RunManifest")({
  version: Schema.Literal(1),
  task_id: Schema.String,
  task_slug: nullable(Schema.String),
  run_id: Schema.String,
  parent_run_id: nullable(Schema.String),
  pipeline_id: Schema.String,
  pipeline_title: Schema.String,
  runner: Schema.optionalWith(Schema.Literal("codex-cli"), { default: () => "codex-cli" as const }),
  approval_policy: nullable(Schema.String),
  status: RunStatus,
  status_detail: nullable(Schema.String),
  started_at: Schema.String,
  completed_at: nullable(Schema.String),
  updated_at: Schema.String,
  heartbeat_at: nullable(Schema.String),
  heartbeat_interval_seconds: Schema.optionalWith(Schema.Number, { default: () => 5 }),
  heartbeat_stale_after_seconds: Schema.optionalWith(Schema.Number, { default: () => 30 }),
  artifact_root: Schema.String,
  compat_path: Schema.String,
  log_path: Schema.String,
  summary: nullable(Schema.String),
  metrics_recorded: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  resume_token: Schema.String,
  resume_events: list(ResumeEvent),
  approvals: list(Approval),
  commands: list(CommandEntry),
  child_runs: list(ChildRunRef),
  run_summary_path: nullable(Schema.String)
}) {}

/** Pointer left at `RUNS/TASK/mcp/RUN/manifest.json` for older tools. */
export class CompatPointer extends Schema.Class<CompatPointer>("CompatPointer")({
  redirect_to: Schema.String,
  manifest: Schema.String,
  created_at: Schema.String,
  note: Schema.String
}) {}

export const strictParse = { onExcessProperty: "error" } as const

export const RunManifestJson = Schema.parseJson(RunManifest, { space: 2 })
export const decodeRunManifest = Schema.decodeUnknown(RunManifestJson, strictParse)
export const decodeRunManifestEither = Schema.decodeUnknownEither(RunManifestJson, strictParse)
export const encodeRunManifest = Schema.encode(RunManifestJson)

// Built RunManifests are checked and every field encodes to itself: the same bytes as `encodeRunManifest`
// (a test holds them equal) at a twentieth of the cost, on the per-stage path.
export const manifestJson = (manifest: RunManifest): string => JSON.stringify(manifest, null, 2)

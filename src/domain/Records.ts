import { Brand, Schema } from "effect"

/** One line of `RUNS/TASK/metrics.json` (CONTRACT §7). */
export class MetricsLine extends Schema.Class<MetricsLine>("MetricsLine")({
  run_id: Schema.String,
  task_id: Schema.String,
  pipeline_id: Schema.String,
  status: Schema.String,
  started_at: Schema.String,
  completed_at: Schema.NullOr(Schema.String),
  duration_seconds: Schema.Number,
  commands_passed: Schema.Int,
  commands_failed: Schema.Int,
  guardrails_present: Schema.Boolean,
  recorded_at: Schema.String,
  artifact_path: Schema.String,
  child_runs: Schema.Int
}) {}

export const MetricsLineJson = Schema.parseJson(MetricsLine)

/** `errors/NN-SLUG.json`, written when a stage fails (CONTRACT §5). */
export class StageErrorFile extends Schema.Class<StageErrorFile>("StageErrorFile")({
  run_id: Schema.String,
  task_id: Schema.String,
  command_index: Schema.Int,
  command_id: Schema.String,
  command: Schema.NullOr(Schema.String),
  reason: Schema.Literal("command-failed"),
  details: Schema.Struct({
    exit_code: Schema.NullOr(Schema.Int),
    stderr: Schema.String,
    stderr_truncated: Schema.optional(Schema.Boolean),
    stdout_truncated: Schema.optional(Schema.Boolean),
    stdout_bytes: Schema.optional(Schema.Number),
    stderr_bytes: Schema.optional(Schema.Number),
    signal: Schema.optional(Schema.String),
    timed_out: Schema.optional(Schema.Boolean)
  }),
  created_at: Schema.String
}) {}

export const StageErrorFileJson = Schema.parseJson(StageErrorFile, { space: 2 })

/** The holder written into `RUNS/TASK.lock` (CONTRACT §8). */
export class LockHolder extends Schema.Class<LockHolder>("LockHolder")({
  pid: Schema.Int,
  host: Schema.String,
  token: Schema.String,
  acquired_at: Schema.String
}) {}

export const LockHolderJson = Schema.parseJson(LockHolder)

/** One line of `runner.ndjson` and `commands/NN-SLUG.ndjson`. */
export const RunnerEvent = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("command:start"),
    command: Schema.NullOr(Schema.String),
    timestamp: Schema.String,
    index: Schema.Int
  }),
  Schema.Struct({
    type: Schema.Literal("command:stdout", "command:stderr"),
    data: Schema.String,
    timestamp: Schema.String,
    index: Schema.Int
  }),
  Schema.Struct({
    type: Schema.Literal("command:end"),
    exit_code: Schema.NullOr(Schema.Int),
    signal: Schema.optional(Schema.String),
    timestamp: Schema.String,
    index: Schema.Int
  })
)
export type RunnerEvent = typeof RunnerEvent.Type

/** `RUNS/TASK/cli/RUN/.stage-process`: the stage running now, so what a killed orchestrator left can be stopped. */
export class StageProcessRecord extends Schema.Class<StageProcessRecord>("StageProcessRecord")({
  stage_index: Schema.Int,
  stage_id: Schema.String,
  pid: Schema.Int,
  /** The stage's own process group (its shell leads it). */
  pgid: Schema.Int,
  host: Schema.String,
  /** When the group's leader started, as the OS tells it; a reused pid shows another time. */
  started_at_ms: Schema.NullOr(Schema.Number),
  recorded_at: Schema.String
}) {}

export const StageProcessRecordJson = Schema.parseJson(StageProcessRecord)

/** Lines of ndjson that went through the RunnerEvent schema, ready to append as they are. */
export type EncodedEvents = Uint8Array & Brand.Brand<"EncodedEvents">
export const EncodedEvents = Brand.nominal<EncodedEvents>()

// `OUT/TASK/pending-history/RUN.json` (CONTRACT §11): JSON as it would be sent, masked; the run's own
// files are preferred when fresher.
export class PendingHistory extends Schema.Class<PendingHistory>("PendingHistory")({
  task_id: Schema.String,
  run_id: Schema.String,
  host: Schema.String,
  pid: Schema.Int,
  manifest: Schema.Unknown,
  summary: Schema.NullOr(Schema.Unknown),
  metrics: Schema.Array(Schema.Unknown)
}) {}

export const PendingHistoryJson = Schema.parseJson(PendingHistory)

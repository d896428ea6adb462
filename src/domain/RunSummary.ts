import { Schema } from "effect"

/** The RunSummary of CONTRACT §6, kept in `run-summary.json`, `RUNS/TASK/RUN/manifest.json` and `state.json`. */
export const PlanItem = Schema.Struct({
  id: Schema.String,
  description: Schema.String,
  requires_cloud: Schema.Boolean
})

export const SummaryMode = Schema.Literal("mcp", "cloud")

export const TestReport = Schema.Struct({
  name: Schema.String,
  status: Schema.Literal("passed", "failed"),
  details: Schema.optional(Schema.String)
})

export class RunSummary extends Schema.Class<RunSummary>("RunSummary")({
  taskId: Schema.String,
  runId: Schema.String,
  mode: SummaryMode,
  plan: Schema.Struct({
    items: Schema.Array(PlanItem),
    notes: Schema.optional(Schema.String)
  }),
  build: Schema.Struct({
    subtaskId: Schema.String,
    artifacts: Schema.Array(Schema.Struct({ path: Schema.String, description: Schema.String })),
    mode: SummaryMode,
    runId: Schema.String,
    success: Schema.Boolean,
    notes: Schema.optional(Schema.String)
  }),
  test: Schema.Struct({
    subtaskId: Schema.String,
    success: Schema.Boolean,
    reports: Schema.Array(TestReport),
    runId: Schema.String
  }),
  review: Schema.Struct({
    summary: Schema.String,
    decision: Schema.Struct({
      approved: Schema.Boolean,
      feedback: Schema.optional(Schema.String)
    })
  }),
  timestamp: Schema.String
}) {}

export const RunSummaryJson = Schema.parseJson(RunSummary, { space: 2 })

/** `OUT/TASK/state.json`: one entry per run id, sorted by timestamp. */
export class TaskStateSnapshot extends Schema.Class<TaskStateSnapshot>("TaskStateSnapshot")({
  taskId: Schema.String,
  lastRunAt: Schema.NullOr(Schema.String),
  runs: Schema.Array(RunSummary)
}) {}

export const TaskStateSnapshotJson = Schema.parseJson(TaskStateSnapshot, { space: 2 })

/** Fields a newer or older tool added to a summary are carried through a rewrite rather than dropped. */
export const preserveUnknown = { onExcessProperty: "preserve" } as const

import { RunManifest } from "../../src/domain/RunManifest.js"
import { isoAt } from "../../src/domain/Timestamp.js"

export const SAMPLE_RUN_ID = "1970-01-01T00-00-00-000Z-0badc0de"

type ManifestFields = ConstructorParameters<typeof RunManifest>[0]

/** A valid in-progress manifest of task 0101 started at the epoch; tests override what they look at. */
export const sampleManifest = (overrides: Partial<ManifestFields> = {}): RunManifest =>
  new RunManifest({
    version: 1,
    task_id: "0101",
    task_slug: null,
    run_id: SAMPLE_RUN_ID,
    parent_run_id: null,
    pipeline_id: "diagnostics",
    pipeline_title: "Diagnostics",
    runner: "codex-cli",
    approval_policy: null,
    status: "in_progress",
    status_detail: null,
    started_at: isoAt(0),
    completed_at: null,
    updated_at: isoAt(0),
    heartbeat_at: null,
    heartbeat_interval_seconds: 5,
    heartbeat_stale_after_seconds: 30,
    artifact_root: `.runs/0101/cli/${SAMPLE_RUN_ID}`,
    compat_path: `.runs/0101/mcp/${SAMPLE_RUN_ID}`,
    log_path: `.runs/0101/cli/${SAMPLE_RUN_ID}/runner.ndjson`,
    summary: null,
    metrics_recorded: false,
    resume_token: "0".repeat(64),
    resume_events: [],
    approvals: [],
    commands: [],
    child_runs: [],
    run_summary_path: null,
    ...overrides
  })

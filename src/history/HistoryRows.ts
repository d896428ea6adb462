import type { MetricsLine } from "../domain/Records.js"
import type { Redactor } from "../domain/Redactor.js"
import type { RunManifest } from "../domain/RunManifest.js"
import type { RunEnd, RunRow, StoredRun } from "./PgStore.js"
import type { HistoryRun } from "./RunHistory.js"

/** A run's rows as the database takes them, masked like everything else that leaves the process. */
export const historyRows = (redactor: Redactor) => {
  const rowOf = (manifest: RunManifest, host: string, writer: number): RunRow => ({
    run_id: manifest.run_id,
    task_id: manifest.task_id,
    pipeline_id: manifest.pipeline_id,
    parent_run_id: manifest.parent_run_id,
    status: manifest.status,
    status_detail: manifest.status_detail,
    host,
    pid: writer,
    started_at: manifest.started_at,
    updated_at: manifest.updated_at,
    heartbeat_at: manifest.heartbeat_at,
    completed_at: manifest.completed_at,
    artifact_root: manifest.artifact_root,
    manifest: redactor.maskJson(manifest)
  })
  const endOf = (manifest: RunManifest, summary: unknown, lines: ReadonlyArray<MetricsLine>, host: string, writer: number): RunEnd => ({
    run: rowOf(manifest, host, writer),
    summary,
    metrics: lines.flatMap((line) =>
      line.completed_at === null ? [] : [{ status: line.status, completed_at: line.completed_at, recorded_at: line.recorded_at, line: redactor.maskJson(line) }])
  })
  return { rowOf, endOf }
}

export const asHistoryRun = (row: StoredRun): HistoryRun => ({
  run_id: row.run_id,
  status: row.status,
  status_detail: row.status_detail,
  pipeline_id: row.pipeline_id,
  parent_run_id: row.parent_run_id,
  host: row.host,
  started_at: row.started_at,
  completed_at: row.completed_at,
  heartbeat_at: row.heartbeat_at,
  heartbeat_stale: row.heartbeat_stale
})

import { Clock, Context, Data, Effect, Layer, Option } from "effect"
import { HistorySchemaError } from "../domain/Errors.js"
import type { MetricsLine } from "../domain/Records.js"
import type { RunManifest } from "../domain/RunManifest.js"
import type { RunSummary } from "../domain/RunSummary.js"
import { heartbeatAge } from "../domain/Staleness.js"
import { RunDirectory } from "../persistence/RunDirectory.js"
import { TaskStateStore } from "../persistence/TaskStateStore.js"
import { Settings } from "../Settings.js"
import type { StoredRun } from "./PgStore.js"

/** One run of a task's history (CONTRACT §11, `history`). */
export interface HistoryRun {
  readonly run_id: string
  readonly status: string
  readonly status_detail: string | null
  readonly pipeline_id: string
  readonly parent_run_id: string | null
  readonly host: string
  readonly started_at: string
  readonly completed_at: string | null
  readonly heartbeat_at: string | null
  readonly heartbeat_stale: boolean
}

export interface HistoryList {
  readonly source: "files" | "database"
  readonly runs: ReadonlyArray<HistoryRun>
}

export type { StoredRun } from "./PgStore.js"

/** The files of §§1–10 always record every run; a database also records them, without ever deciding a run. */
export interface RunHistoryShape {
  readonly source: "files" | "database"
  /** Before anything of a run is written: a database at a newer schema refuses the command. */
  readonly ready: Effect.Effect<void, HistorySchemaError>
  /** Each write of a run's manifest, in the writer's order. */
  readonly recorded: (manifest: RunManifest) => Effect.Effect<void>
  readonly beat: (run: { readonly task_id: string; readonly run_id: string }, at: string) => Effect.Effect<void>
  readonly ended: (manifest: RunManifest, summary: RunSummary, metrics: MetricsLine | null) => Effect.Effect<void>
  readonly list: (taskId: string, limit: number) => Effect.Effect<HistoryList, HistorySchemaError>
  /** A run the database knows, whichever machine ran it. */
  readonly find: (runId: string) => Effect.Effect<Option.Option<StoredRun>, HistorySchemaError | HistoryUnreachable>
}

/** The database could not be asked: the command answers from this machine's files, or says so. */
export class HistoryUnreachable extends Data.TaggedError("HistoryUnreachable")<{ readonly message: string }> {}

export class RunHistory extends Context.Tag("codex-orchestrator/RunHistory")<RunHistory, RunHistoryShape>() {
  static readonly files: Layer.Layer<RunHistory, never, RunDirectory | TaskStateStore | Settings> = Layer.effect(
    RunHistory,
    Effect.gen(function*() {
      const listFromFiles = yield* filesList
      return {
        source: "files",
        ready: Effect.void,
        recorded: () => Effect.void,
        beat: () => Effect.void,
        ended: () => Effect.void,
        list: listFromFiles,
        find: () => Effect.succeed(Option.none())
      } satisfies RunHistoryShape
    })
  )
}

/** The snapshot adds the runs whose directory is gone. */
export const filesList = Effect.gen(function*() {
  const runs = yield* RunDirectory
  const store = yield* TaskStateStore
  const settings = yield* Settings
  return (taskId: string, limit: number): Effect.Effect<HistoryList> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const local = yield* runs.runsOf(taskId)
      const seen = new Set(local.map((run) => run.manifest.run_id))
      const fromDirectories = local.map(({ heartbeatFileAt, manifest: m }): HistoryRun => ({
        run_id: m.run_id,
        status: m.status,
        status_detail: m.status_detail,
        pipeline_id: m.pipeline_id,
        parent_run_id: m.parent_run_id,
        host: settings.host,
        started_at: m.started_at,
        completed_at: m.completed_at,
        heartbeat_at: [m.heartbeat_at, heartbeatFileAt].filter((at): at is string => at !== null).sort().at(-1) ?? null,
        heartbeat_stale: heartbeatAge(m, now, { heartbeatFileAt }).heartbeat_stale
      }))
      const snapshot = yield* store.read(taskId).pipe(
        Effect.catchAll((error) => Effect.as(Effect.logWarning(`history: ${error.message}`), null))
      )
      const fromSnapshot = (snapshot?.runs ?? []).filter((run) => !seen.has(run.runId)).map((run): HistoryRun => ({
        run_id: run.runId,
        status: run.build.success ? "succeeded" : "failed",
        status_detail: null,
        pipeline_id: run.plan.items[0]?.id.split(":")[0] ?? "",
        parent_run_id: null,
        host: settings.host,
        started_at: run.timestamp,
        completed_at: run.timestamp,
        heartbeat_at: null,
        heartbeat_stale: false
      }))
      const all = [...fromDirectories, ...fromSnapshot].sort((a, b) =>
        a.started_at < b.started_at ? 1 : a.started_at > b.started_at ? -1 : a.run_id < b.run_id ? 1 : -1
      )
      return { source: "files", runs: all.slice(0, limit) }
    })
})

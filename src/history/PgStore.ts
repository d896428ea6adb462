// Built as dist/history.cjs, loaded only when CODEX_ORCHESTRATOR_HISTORY_URL is set (CONTRACT §11); it takes
// effect from the main bundle, so it imports effect by subpath and trades only plain data with the program.
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { timed } from "./Timing.js"

export interface RunRow {
  readonly run_id: string
  readonly task_id: string
  readonly pipeline_id: string
  readonly parent_run_id: string | null
  readonly status: string
  readonly status_detail: string | null
  readonly host: string
  readonly pid: number
  readonly started_at: string
  readonly updated_at: string
  readonly heartbeat_at: string | null
  readonly completed_at: string | null
  readonly artifact_root: string
  readonly manifest: unknown
}

export interface RunEnd {
  readonly run: RunRow
  readonly summary: unknown
  readonly metrics: ReadonlyArray<{ readonly status: string; readonly completed_at: string; readonly recorded_at: string; readonly line: unknown }>
}

export interface StoredRun extends RunRow {
  readonly summary: unknown
  /** By the database's clock, so machines whose clocks differ agree on it. */
  readonly heartbeat_age_seconds: number | null
  readonly heartbeat_stale: boolean
}

/** Why the history could not be used: the program goes on with its files (or refuses a newer schema). */
export class HistoryFailure extends Data.TaggedError("HistoryFailure")<{
  readonly kind: "unreachable" | "newer-schema" | "failed"
  readonly message: string
}> {}

export interface PgStore {
  readonly upsertRun: (row: RunRow) => Effect.Effect<void, HistoryFailure>
  readonly heartbeat: (runId: string, at: string) => Effect.Effect<void, HistoryFailure>
  /** Ends (a run's own, or parked ones being pushed): per task, one transaction under its advisory lock. */
  readonly recordEnds: (ends: ReadonlyArray<RunEnd>) => Effect.Effect<void, HistoryFailure>
  readonly listRuns: (taskId: string, limit: number) => Effect.Effect<ReadonlyArray<StoredRun>, HistoryFailure>
  readonly findRun: (runId: string) => Effect.Effect<Option.Option<StoredRun>, HistoryFailure>
}

const MIGRATIONS_TABLE = "codex_migrations"
const migrations: Record<string, Effect.Effect<void, SqlError, SqlClient.SqlClient>> = {
  "1_runs": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      sql`create table runs (
        run_id text primary key,
        task_id text not null,
        pipeline_id text not null,
        parent_run_id text,
        status text not null,
        status_detail text,
        host text not null,
        pid integer not null,
        started_at timestamptz not null,
        updated_at timestamptz not null,
        heartbeat_at timestamptz,
        completed_at timestamptz,
        artifact_root text not null,
        manifest jsonb not null,
        summary jsonb
      )`,
      sql`create index runs_of_task on runs (task_id, started_at desc)`
    )),
  "2_metrics_and_tasks": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      sql`create table metrics (
        run_id text not null,
        task_id text not null,
        status text not null,
        completed_at timestamptz not null,
        recorded_at timestamptz not null,
        line jsonb not null,
        constraint metrics_one_per_outcome unique (run_id, status, completed_at)
      )`,
      sql`create table tasks (task_id text primary key, latest_run_id text not null, latest_at timestamptz not null)`
    ))
}
/** The newest schema this program knows; a database past it is refused. */
export const SCHEMA_VERSION = Math.max(...Object.keys(migrations).map((key) => Number(key.split("_")[0])))

/** SQLSTATE classes and Node codes that mean the connection, not the statement, failed. */
const CONNECTION_CODES = /^(08|57P0|53)|^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH)$/
const causeOf = (error: SqlError) => error.cause as { readonly code?: unknown; readonly message?: unknown } | undefined

const isConnectionError = (error: SqlError): boolean => {
  const cause = causeOf(error)
  return (typeof cause?.code === "string" && CONNECTION_CODES.test(cause.code)) ||
    /connection|timeout|timed out|terminat/i.test(`${String(cause?.message ?? "")} ${error.message}`)
}

const failure = (error: SqlError): HistoryFailure => {
  const cause = causeOf(error)
  const code = typeof cause?.code === "string" ? ` (${cause.code})` : ""
  return new HistoryFailure({
    kind: isConnectionError(error) ? "unreachable" : "failed",
    message: `${error.message}${typeof cause?.message === "string" ? `: ${cause.message}` : ""}${code}`
  })
}

/** Connection errors are tried again, like the task lock: a few attempts, exponential, well under a second. */
const RETRY = Schedule.exponential(Duration.millis(50)).pipe(Schedule.intersect(Schedule.recurs(3)))

// @effect/sql makes a failed ROLLBACK or COMMIT (a connection killed mid-transaction) a defect: turned
// back into a failure so it can be retried and reported.
const isSqlError = (error: unknown): error is SqlError =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "SqlError"

const attempt = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, HistoryFailure | Exclude<E, SqlError>> =>
  effect.pipe(
    Effect.catchAllDefect((defect) => (isSqlError(defect) ? Effect.fail(defect) : Effect.die(defect))),
    Effect.retry({ schedule: RETRY, while: (error) => isSqlError(error) && isConnectionError(error) }),
    Effect.mapError((error) => (isSqlError(error) ? failure(error) : (error as Exclude<E, SqlError>)))
  )

const iso = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
const RUN_COLUMNS = `run_id, task_id, pipeline_id, parent_run_id, status, status_detail, host, pid,
  ${iso("started_at")} as started_at, ${iso("updated_at")} as updated_at, ${iso("heartbeat_at")} as heartbeat_at,
  ${iso("completed_at")} as completed_at, artifact_root, manifest, summary,
  floor(extract(epoch from now() - greatest(heartbeat_at, updated_at)))::int as heartbeat_age_seconds,
  (status = 'in_progress' and now() - greatest(heartbeat_at, updated_at) >
    make_interval(secs => coalesce((manifest->>'heartbeat_stale_after_seconds')::float8, 30))) as heartbeat_stale`

export const connect = (url: string): Effect.Effect<PgStore, HistoryFailure, Scope.Scope> =>
  Effect.gen(function*() {
    // Every pooled connection gets these in its startup packet: a slow database cannot hold a run up.
    const session = new URL(url)
    session.searchParams.set("options", "-c statement_timeout=5s -c lock_timeout=5s")
    const sql = yield* timed("open the pool")(openPool(session.toString()))
    const version = yield* timed("check the schema version")(attempt(schemaVersion(sql)))
    if (version > SCHEMA_VERSION) {
      return yield* new HistoryFailure({
        kind: "newer-schema",
        message: `the shared history is at schema version ${version}, newer than this program's ${SCHEMA_VERSION}; upgrade codex-orchestrator`
      })
    }
    if (version < SCHEMA_VERSION) yield* timed("migrate")(attempt(migrate(sql).pipe(Effect.provideService(SqlClient.SqlClient, sql))))
    return store(sql)
  })

const openPool = (url: string) =>
  PgClient.make({
    url: Redacted.make(url),
    ssl: false,
    connectTimeout: Duration.seconds(2),
    idleTimeout: Duration.seconds(5),
    maxConnections: 2,
    applicationName: "codex-orchestrator"
  }).pipe(
    Effect.provide(Reactivity.layer),
    Effect.retry({ schedule: RETRY, while: isConnectionError }),
    Effect.mapError(failure)
  )

const schemaVersion = (sql: SqlClient.SqlClient) =>
  sql<{ v: number | null }>`select max(migration_id) as v from ${sql(MIGRATIONS_TABLE)}`.pipe(
    Effect.map((rows) => rows[0]?.v ?? 0),
    // No table yet: a database this program has never used.
    Effect.catchIf((error) => causeOf(error)?.code === "42P01", () => Effect.succeed(0))
  )

/** The migrator's table is made under a lock first: its own first step is not, and two first uses race. */
const migrate = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    yield* sql.withTransaction(Effect.zipRight(
      sql`select pg_advisory_xact_lock(hashtext('codex-orchestrator:schema'))`,
      sql`create table if not exists ${sql(MIGRATIONS_TABLE)} (migration_id integer primary key, created_at timestamptz not null default now(), name text not null)`
    ))
    // Inside the migrator's locked transaction: no other machine migrates between this check and the run.
    const loader = Effect.flatMap(schemaVersion(sql), (stored) =>
      stored > SCHEMA_VERSION
        ? Effect.fail(new Migrator.MigrationError({ reason: "bad-state", message: `the database is at schema version ${stored}` }))
        : Migrator.fromRecord(migrations)).pipe(
          Effect.mapError((error) => error._tag === "MigrationError" ? error : new Migrator.MigrationError({ reason: "failed", message: error.message }))
        )
    yield* Migrator.make({})({ loader, table: MIGRATIONS_TABLE }).pipe(
      Effect.catchTag("MigrationError", (error) =>
        Effect.fail(new HistoryFailure({ kind: error.reason === "bad-state" ? "newer-schema" : "failed", message: `migrating the shared history: ${error.message}` })))
    )
  })

const store = (sql: SqlClient.SqlClient): PgStore => {
  const upsert = (row: RunRow, summary: unknown) =>
    sql`insert into runs (run_id, task_id, pipeline_id, parent_run_id, status, status_detail, host, pid, started_at,
        updated_at, heartbeat_at, completed_at, artifact_root, manifest, summary)
      values (${row.run_id}, ${row.task_id}, ${row.pipeline_id}, ${row.parent_run_id}, ${row.status}, ${row.status_detail},
        ${row.host}, ${row.pid}, ${row.started_at}, ${row.updated_at}, ${row.heartbeat_at}, ${row.completed_at},
        ${row.artifact_root}, ${JSON.stringify(row.manifest)}::jsonb, ${summary === null ? null : JSON.stringify(summary)}::jsonb)
      on conflict (run_id) do update set task_id = excluded.task_id, pipeline_id = excluded.pipeline_id,
        parent_run_id = excluded.parent_run_id, status = excluded.status, status_detail = excluded.status_detail,
        host = excluded.host, pid = excluded.pid, updated_at = excluded.updated_at,
        heartbeat_at = greatest(runs.heartbeat_at, excluded.heartbeat_at), completed_at = excluded.completed_at,
        artifact_root = excluded.artifact_root, manifest = excluded.manifest, summary = coalesce(excluded.summary, runs.summary)
      where runs.updated_at <= excluded.updated_at`

  const recordEnds = (ends: ReadonlyArray<RunEnd>) => {
    const byTask = new Map<string, Array<RunEnd>>()
    for (const end of ends) byTask.set(end.run.task_id, [...(byTask.get(end.run.task_id) ?? []), end])
    return Effect.forEach([...byTask], ([taskId, list]) =>
      attempt(sql.withTransaction(Effect.gen(function*() {
        yield* sql`select pg_advisory_xact_lock(hashtext(${`codex-orchestrator:task:${taskId}`}))`
        const ordered = [...list].sort((a, b) => (a.run.updated_at < b.run.updated_at ? -1 : 1))
        for (const end of ordered) {
          yield* upsert(end.run, end.summary)
          for (const m of end.metrics) {
            // The database, not the program, refuses a second row for one outcome.
            yield* sql`insert into metrics (run_id, task_id, status, completed_at, recorded_at, line)
              values (${end.run.run_id}, ${taskId}, ${m.status}, ${m.completed_at}, ${m.recorded_at}, ${JSON.stringify(m.line)}::jsonb)
              on conflict on constraint metrics_one_per_outcome do nothing`
          }
          yield* sql`insert into tasks (task_id, latest_run_id, latest_at) values (${taskId}, ${end.run.run_id}, ${end.run.started_at})
            on conflict (task_id) do update set latest_run_id = excluded.latest_run_id, latest_at = excluded.latest_at
            where tasks.latest_at <= excluded.latest_at`
        }
      }))), { discard: true })
  }

  return {
    upsertRun: (row) => attempt(Effect.asVoid(upsert(row, null))),
    heartbeat: (runId, at) => attempt(Effect.asVoid(sql`update runs set heartbeat_at = greatest(heartbeat_at, ${at}::timestamptz) where run_id = ${runId}`)),
    recordEnds,
    listRuns: (taskId, limit) =>
      attempt(sql.unsafe<StoredRun>(`select ${RUN_COLUMNS} from runs where task_id = $1 order by started_at desc, run_id desc limit $2`, [taskId, limit])),
    findRun: (runId) =>
      attempt(sql.unsafe<StoredRun>(`select ${RUN_COLUMNS} from runs where run_id = $1`, [runId])).pipe(
        Effect.map((rows) => Option.fromNullable(rows[0]))
      )
  }
}

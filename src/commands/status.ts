import { Command, Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Option } from "effect"
import { Redaction } from "../domain/Redactor.js"
import { type HistorySchemaError, RunNotFoundError } from "../domain/Errors.js"
import { type ChildRunRef, type CommandEntry, isTerminal, type RunStatus } from "../domain/RunManifest.js"
import { RunHistory, type StoredRun } from "../history/RunHistory.js"
import { heartbeatAge } from "../domain/Staleness.js"
import { stripTerminalControls } from "../domain/TerminalText.js"
import { ExitCode } from "../ExitCode.js"
import { type LocateError, type LocatedRun, RunDirectory } from "../persistence/RunDirectory.js"
import { type Leftover, StageProcesses } from "../persistence/StageProcesses.js"
import { Progress } from "../run/Progress.js"
import { exitCodeFor, Shutdown } from "../run/Shutdown.js"
import { format, type Format, printJson } from "./shared.js"

// CONTRACT §2; the `.heartbeat` file counts as the freshest heartbeat. A stale run whose stage is still
// alive (its orchestrator died) also says which group is left.
export const statusDocument = (run: LocatedRun, nowMillis: number, leftover: Option.Option<Leftover>): StatusDocument => {
  const m = run.manifest
  const age = heartbeatAge(m, nowMillis, { heartbeatFileAt: run.heartbeatFileAt })
  const heartbeats = [m.heartbeat_at, run.heartbeatFileAt].filter((at): at is string => at !== null).sort()
  return {
    run_id: m.run_id,
    status: m.status,
    status_detail: m.status_detail,
    started_at: m.started_at,
    completed_at: m.completed_at,
    manifest: `${m.artifact_root}/manifest.json`,
    artifact_root: m.artifact_root,
    log_path: m.log_path,
    heartbeat_at: heartbeats[heartbeats.length - 1] ?? null,
    commands: m.commands,
    child_runs: m.child_runs,
    heartbeat_age_seconds: age.heartbeat_age_seconds,
    heartbeat_stale: age.heartbeat_stale,
    ...(age.heartbeat_stale && Option.isSome(leftover) ? { live_processes: leftover.value } : {})
  }
}

interface StatusDocument {
  readonly run_id: string
  readonly status: string
  readonly status_detail: string | null
  readonly started_at: string
  readonly completed_at: string | null
  readonly manifest: string
  readonly artifact_root: string
  readonly log_path: string
  readonly heartbeat_at: string | null
  readonly commands: ReadonlyArray<Pick<CommandEntry, "index" | "id" | "title" | "status" | "summary">>
  readonly child_runs: ReadonlyArray<Pick<ChildRunRef, "run_id" | "pipeline_id" | "status">>
  readonly heartbeat_age_seconds: number | null
  readonly heartbeat_stale: boolean
  readonly live_processes?: Leftover
  readonly host?: string
  readonly source?: "database"
}

const statusText = (doc: StatusDocument): string => {
  const lines = [
    ...(doc.host === undefined ? [] : [`Host: ${doc.host} (from the shared history)`]),
    `Run ${doc.run_id}: ${doc.status}${doc.status_detail === null ? "" : ` (${doc.status_detail})`}${doc.heartbeat_stale ? " [stale]" : ""}`,
    `Started: ${doc.started_at}${doc.completed_at === null ? "" : `  Completed: ${doc.completed_at}`}`,
    `Heartbeat: ${doc.heartbeat_at ?? "none"}${doc.heartbeat_age_seconds === null ? "" : ` (${doc.heartbeat_age_seconds}s ago)`}`,
    `Manifest: ${doc.manifest}`
  ]
  for (const c of doc.commands) {
    lines.push(`  ${c.index}. [${c.status}] ${c.title} (${c.id})${c.summary === null ? "" : ` — ${c.summary.split("\n")[0]}`}`)
  }
  for (const child of doc.child_runs) lines.push(`  child ${child.run_id} (${child.pipeline_id}): ${child.status}`)
  if (doc.live_processes !== undefined) {
    const { pgid, stage_id } = doc.live_processes
    lines.push(`Leftover: stage '${stage_id}' still has live processes (process group ${pgid}); resume stops them before it runs anything.`)
  }
  return lines.join("\n")
}

/** The status of a run another machine has the files of, as the shared history knows it (CONTRACT §11). */
export const remoteDocument = (row: StoredRun): StatusDocument => {
  const manifest = row.manifest as { readonly log_path?: string; readonly commands?: ReadonlyArray<CommandEntry>; readonly child_runs?: ReadonlyArray<ChildRunRef> }
  return {
    run_id: row.run_id,
    status: row.status,
    status_detail: row.status_detail,
    started_at: row.started_at,
    completed_at: row.completed_at,
    manifest: `${row.artifact_root}/manifest.json`,
    artifact_root: row.artifact_root,
    log_path: manifest.log_path ?? `${row.artifact_root}/runner.ndjson`,
    heartbeat_at: row.heartbeat_at,
    commands: manifest.commands ?? [],
    child_runs: manifest.child_runs ?? [],
    heartbeat_age_seconds: row.heartbeat_age_seconds,
    heartbeat_stale: row.heartbeat_stale,
    host: row.host,
    source: "database"
  }
}

export const status = Command.make(
  "status",
  {
    run: Options.text("run").pipe(Options.withDescription("the run id")),
    format,
    watch: Options.boolean("watch").pipe(Options.withDescription("re-read until the run is terminal")),
    interval: Options.integer("interval").pipe(Options.withDefault(2), Options.withDescription("seconds between reads with --watch"))
  },
  (options) =>
    Effect.gen(function*() {
      const runs = yield* RunDirectory
      const processes = yield* StageProcesses
      const shutdown = yield* Shutdown
      const progress = yield* Progress
      const redactor = yield* Redaction
      const history = yield* RunHistory
      /** Not under this machine's runs: the shared history may know it, with the host that has its files. */
      const elsewhere = (missing: RunNotFoundError) =>
        history.find(options.run).pipe(
          Effect.catchTag("HistoryUnreachable", (why) =>
            Effect.fail(new RunNotFoundError({ runId: options.run, message: `${missing.message}, and the shared history could not be asked (${why.message})` }))),
          Effect.flatMap((row) =>
            Option.isNone(row) ? Effect.fail(missing) : Effect.succeed({ terminal: isTerminal(row.value.status as RunStatus), doc: remoteDocument(row.value) }))
        )
      const local = yield* Effect.either(runs.locate(options.run))
      const read: Effect.Effect<{ readonly terminal: boolean; readonly doc: StatusDocument }, LocateError | HistorySchemaError> =
        local._tag === "Right"
          ? Effect.gen(function*() {
            const run = yield* runs.read(local.right)
            const doc = statusDocument(run, yield* Clock.currentTimeMillis, yield* processes.leftover(run.paths))
            return { terminal: isTerminal(run.manifest.status), doc }
          })
          : local.left._tag !== "RunNotFoundError"
          ? Effect.fail(local.left)
          : elsewhere(local.left)
      // Summaries are what stages printed: masked, and inert on the reader's terminal.
      const report = (doc: StatusDocument, as: Format) =>
        as === "json" ? printJson(redactor.maskJson(doc)) : Console.log(stripTerminalControls(redactor.mask(statusText(doc))))
      let { doc, terminal } = yield* read
      if (options.watch) {
        const pause = Duration.seconds(Math.max(1, options.interval))
        while (!terminal && !doc.heartbeat_stale) {
          yield* progress.note(statusText(doc))
          const stopped = yield* Effect.raceFirst(Effect.as(Effect.sleep(pause), Option.none()), Effect.map(shutdown.requested, Option.some))
          if (Option.isSome(stopped)) {
            yield* report(doc, options.format)
            return yield* ExitCode.set(exitCodeFor(stopped.value))
          }
          ;({ doc, terminal } = yield* read)
        }
      }
      yield* report(doc, options.format)
    })
).pipe(Command.withDescription("Show a run's status, heartbeat age and stages (legacy runs included)."))

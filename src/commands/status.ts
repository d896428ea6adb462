import { Command, Options } from "@effect/cli"
import { Clock, Console, Duration, Effect, Option } from "effect"
import { isTerminal } from "../domain/RunManifest.js"
import { ExitCode } from "../ExitCode.js"
import { type LocatedRun, RunLocator } from "../run/RunLocator.js"
import { exitCodeFor, Shutdown } from "../run/Shutdown.js"
import { heartbeatAge } from "../run/Staleness.js"
import { format, type Format, printJson } from "./shared.js"

/** The status document of CONTRACT §2; the `.heartbeat` file counts as the freshest heartbeat. */
export const statusDocument = (run: LocatedRun, nowMillis: number) => {
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
    heartbeat_stale: age.heartbeat_stale
  }
}

type StatusDocument = ReturnType<typeof statusDocument>

const statusText = (doc: StatusDocument): string => {
  const lines = [
    `Run ${doc.run_id}: ${doc.status}${doc.status_detail === null ? "" : ` (${doc.status_detail})`}${doc.heartbeat_stale ? " [stale]" : ""}`,
    `Started: ${doc.started_at}${doc.completed_at === null ? "" : `  Completed: ${doc.completed_at}`}`,
    `Heartbeat: ${doc.heartbeat_at ?? "none"}${doc.heartbeat_age_seconds === null ? "" : ` (${doc.heartbeat_age_seconds}s ago)`}`,
    `Manifest: ${doc.manifest}`
  ]
  for (const c of doc.commands) {
    lines.push(`  ${c.index}. [${c.status}] ${c.title} (${c.id})${c.summary === null ? "" : ` — ${c.summary.split("\n")[0]}`}`)
  }
  for (const child of doc.child_runs) lines.push(`  child ${child.run_id} (${child.pipeline_id}): ${child.status}`)
  return lines.join("\n")
}

const report = (doc: StatusDocument, as: Format) => (as === "json" ? printJson(doc) : Console.log(statusText(doc)))

export const status = Command.make(
  "status",
  {
    run: Options.text("run").pipe(Options.withDescription("the run id")),
    format,
    watch: Options.boolean("watch").pipe(Options.withDescription("re-read until the run is terminal")),
    interval: Options.integer("interval").pipe(
      Options.withDefault(2),
      Options.withDescription("seconds between reads with --watch")
    )
  },
  (options) =>
    Effect.gen(function*() {
      const locator = yield* RunLocator
      const shutdown = yield* Shutdown
      let run = yield* locator.find(options.run)
      let doc = statusDocument(run, yield* Clock.currentTimeMillis)
      if (options.watch) {
        const pause = Duration.seconds(Math.max(1, options.interval))
        while (!isTerminal(run.manifest.status) && !doc.heartbeat_stale) {
          yield* Console.error(statusText(doc))
          const stopped = yield* Effect.raceFirst(
            Effect.as(Effect.sleep(pause), Option.none()),
            Effect.map(shutdown.requested, Option.some)
          )
          if (Option.isSome(stopped)) {
            yield* report(doc, options.format)
            return yield* ExitCode.set(exitCodeFor(stopped.value))
          }
          run = yield* locator.read(run)
          doc = statusDocument(run, yield* Clock.currentTimeMillis)
        }
      }
      yield* report(doc, options.format)
    })
).pipe(Command.withDescription("Show a run's status, heartbeat age and stages (legacy runs included)."))

import { Command, Options } from "@effect/cli"
import { Console, Effect, Schema } from "effect"
import { Redaction } from "../domain/Redactor.js"
import { stripTerminalControls } from "../domain/TerminalText.js"
import { type HistoryRun, RunHistory } from "../history/RunHistory.js"
import { format, printJson, task } from "./shared.js"

const runLine = (run: HistoryRun): string =>
  [
    `  ${run.run_id}  ${run.status}${run.status_detail === null ? "" : ` (${run.status_detail})`}${run.heartbeat_stale ? " [stale]" : ""}`,
    `pipeline ${run.pipeline_id}`,
    `on ${run.host}`,
    `${run.started_at}${run.completed_at === null ? "" : ` → ${run.completed_at}`}`,
    ...(run.parent_run_id === null ? [] : [`child of ${run.parent_run_id}`])
  ].join("  ")

export const history = Command.make(
  "history",
  {
    task,
    limit: Options.integer("limit").pipe(
      Options.withDefault(20),
      Options.withSchema(Schema.Int.pipe(Schema.between(1, 10_000, { message: () => ({ message: "--limit must be a whole number from 1 to 10000", override: true }) }))),
      Options.withDescription("how many of the newest runs")
    ),
    format
  },
  (options) =>
    Effect.gen(function*() {
      const redactor = yield* Redaction
      const { runs, source } = yield* (yield* RunHistory).list(options.task, options.limit)
      if (options.format === "json") return yield* printJson(redactor.maskJson({ task_id: options.task, source, runs }))
      const lines = [`Runs of task ${options.task}, newest first (from the ${source === "database" ? "shared history" : "files of this machine"}):`, ...runs.map(runLine)]
      yield* Console.log(stripTerminalControls(redactor.mask(lines.join("\n"))))
    })
).pipe(Command.withDescription("List a task's runs, newest first: every machine's with a shared history, else this machine's."))

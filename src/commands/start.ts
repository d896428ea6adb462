import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { RunId } from "../domain/Ids.js"
import { Redaction } from "../domain/Redactor.js"
import { stripTerminalControls } from "../domain/TerminalText.js"
import { ExitCode } from "../ExitCode.js"
import { RunEngine, type RunResult } from "../run/RunEngine.js"
import { format, type Format, pipelineArg, printJson, task } from "./shared.js"

/** The answer of `start` and `resume` (CONTRACT §2); the exit code follows the run. */
export const reportRun = (result: RunResult, as: Format) =>
  Effect.gen(function*() {
    const redactor = yield* Redaction
    const m = result.manifest
    const manifest = `${m.artifact_root}/manifest.json`
    if (as === "json") {
      yield* printJson(redactor.maskJson({ run_id: m.run_id, status: m.status, artifact_root: m.artifact_root, manifest, log_path: m.log_path }))
    } else {
      const lines = [
        `Run ${m.run_id}: ${m.status}${m.status_detail === null ? "" : ` (${m.status_detail})`}`,
        `Manifest: ${manifest}`,
        `Log: ${m.log_path}`,
        ...(m.summary === null ? [] : m.summary.split("\n"))
      ]
      yield* Console.log(stripTerminalControls(redactor.mask(lines.join("\n"))))
    }
    yield* ExitCode.set(result.exitCode)
  })

export const start = Command.make(
  "start",
  {
    pipeline: pipelineArg("pipeline id (default: the config's defaultPipeline, else diagnostics)"),
    task,
    format,
    parentRun: Options.text("parent-run").pipe(Options.withSchema(RunId), Options.optional, Options.withDescription("run id of the parent run")),
    approvalPolicy: Options.text("approval-policy").pipe(Options.optional, Options.withDescription("recorded in the manifest as approval_policy"))
  },
  (options) =>
    Effect.gen(function*() {
      const engine = yield* RunEngine
      const result = yield* engine.start({
        taskId: options.task,
        pipelineId: Option.getOrUndefined(options.pipeline),
        parentRunId: Option.getOrNull(options.parentRun),
        approvalPolicy: Option.getOrNull(options.approvalPolicy)
      })
      yield* reportRun(result, options.format)
    })
).pipe(Command.withDescription("Run a pipeline and record its evidence under .runs/ and out/."))

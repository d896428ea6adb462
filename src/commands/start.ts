import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { ExitCode } from "../ExitCode.js"
import type { RunResult } from "../run/RunEngine.js"
import { RunEngine } from "../run/RunEngine.js"
import { format, type Format, printJson, resolveTaskId, task } from "./shared.js"

export const reportRun = (result: RunResult, as: Format) =>
  Effect.gen(function*() {
    const m = result.manifest
    if (as === "json") {
      yield* printJson({
        run_id: m.run_id,
        status: m.status,
        artifact_root: m.artifact_root,
        manifest: `${m.artifact_root}/manifest.json`,
        log_path: m.log_path
      })
    } else {
      yield* Console.log(
        [
          `Run ${m.run_id}: ${m.status}${m.status_detail === null ? "" : ` (${m.status_detail})`}`,
          `Manifest: ${m.artifact_root}/manifest.json`,
          `Log: ${m.log_path}`,
          ...(m.summary === null ? [] : m.summary.split("\n"))
        ].join("\n")
      )
    }
    yield* ExitCode.set(result.exitCode)
  })

export const start = Command.make(
  "start",
  {
    pipeline: Args.text({ name: "pipeline" }).pipe(Args.optional, Args.withDescription("pipeline id (default: the config's defaultPipeline, else diagnostics)")),
    task,
    format,
    parentRun: Options.text("parent-run").pipe(Options.optional, Options.withDescription("run id of the parent run")),
    approvalPolicy: Options.text("approval-policy").pipe(Options.optional, Options.withDescription("recorded in the manifest as approval_policy"))
  },
  (options) =>
    Effect.gen(function*() {
      const taskId = yield* resolveTaskId(options.task)
      const engine = yield* RunEngine
      const result = yield* engine.start({
        taskId,
        pipelineId: Option.getOrUndefined(options.pipeline),
        parentRunId: Option.getOrNull(options.parentRun),
        approvalPolicy: Option.getOrNull(options.approvalPolicy)
      })
      yield* reportRun(result, options.format)
    })
).pipe(Command.withDescription("Run a pipeline and record its evidence under .runs/ and out/."))

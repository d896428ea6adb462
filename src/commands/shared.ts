import { Args, Options } from "@effect/cli"
import { Config, Console, Schema } from "effect"
import { TaskId } from "../domain/Ids.js"

export const format = Options.choice("format", ["text", "json"]).pipe(
  Options.withDefault("text" as const),
  Options.withDescription("text for people, json for tools (exactly one JSON document on stdout)")
)
export type Format = "text" | "json"

/** `--task`, then `MCP_RUNNER_TASK_ID`, then `0101` (CONTRACT §1); refused unless it may name a directory. */
export const task = Options.text("task").pipe(
  Options.withFallbackConfig(Config.string("MCP_RUNNER_TASK_ID")),
  Options.withDefault("0101"),
  Options.withSchema(TaskId),
  Options.withDescription("task id (default: MCP_RUNNER_TASK_ID, else 0101)")
)

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** A pipeline id; a word starting with `-` here is an option misspelt, never a pipeline. */
export const pipelineArg = (description: string) =>
  Args.text({ name: "pipeline" }).pipe(
    Args.withSchema(Schema.String.pipe(Schema.filter((word) => !word.startsWith("-"), {
      message: (issue) => ({ message: `unknown option '${String(issue.actual)}'`, override: true })
    }))),
    Args.optional,
    Args.withDescription(description)
  )

import { Options } from "@effect/cli"
import { Console, Effect, Either, Option } from "effect"
import { InvalidInputError } from "../domain/Errors.js"
import { decodeTaskId, type TaskId } from "../domain/Ids.js"
import { Settings } from "../Settings.js"

export const format = Options.choice("format", ["text", "json"]).pipe(
  Options.withDefault("text" as const),
  Options.withDescription("text for people, json for tools (exactly one JSON document on stdout)")
)
export type Format = "text" | "json"

export const task = Options.text("task").pipe(
  Options.optional,
  Options.withDescription("task id (default: MCP_RUNNER_TASK_ID, else 0101)")
)

/** `--task`, then `MCP_RUNNER_TASK_ID`, then `0101`; refused unless it may name a directory. */
export const resolveTaskId = (flag: Option.Option<string>): Effect.Effect<TaskId, InvalidInputError, Settings> =>
  Effect.flatMap(Settings, (settings) =>
    Either.match(decodeTaskId(Option.getOrElse(flag, () => settings.defaultTaskId)), {
      onLeft: (message) => Effect.fail(new InvalidInputError({ message })),
      onRight: Effect.succeed
    }))

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

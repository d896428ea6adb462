import { Command, ValidationError } from "@effect/cli"
import { Cause, Console, Effect, Option, Ref } from "effect"
import { plan } from "./commands/plan.js"
import { resume } from "./commands/resume.js"
import { start } from "./commands/start.js"
import { status } from "./commands/status.js"
import { ExitCode } from "./ExitCode.js"

export const VERSION = "0.1.0"

export const command = Command.make("codex-orchestrator").pipe(
  Command.withDescription("Run pipelines of shell stages and keep durable evidence of every run."),
  Command.withSubcommands([start, plan, status, resume])
)

const cli = Command.run(command, { name: "codex-orchestrator", version: VERSION })

/** Errors the user can fix: one line on stderr, exit code 2. */
const USAGE_ERRORS = new Set([
  "InvalidInputError",
  "ConfigError",
  "RunNotFoundError",
  "ResumeRefusedError",
  "CorruptFileError"
])

const isTagged = (error: unknown): error is { readonly _tag: string; readonly message: string } =>
  typeof error === "object" && error !== null && "_tag" in error && "message" in error

/**
 * Runs the command tree for `argv` (without the node and script entries) and decides the exit code:
 * the answer's own code, 2 for bad usage or input, 1 for anything unexpected. Never a stack trace.
 */
export const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const code = yield* ExitCode
    const exit = yield* Effect.exit(cli(["node", "codex-orchestrator", ...argv]))
    if (exit._tag === "Success") return yield* Ref.get(code)
    const failure = Cause.failureOption(exit.cause)
    if (Option.isSome(failure)) {
      const error = failure.value
      if (ValidationError.isValidationError(error)) return 2
      if (isTagged(error)) {
        yield* Console.error(`codex-orchestrator: ${error.message}`)
        return USAGE_ERRORS.has(error._tag) ? 2 : 1
      }
    }
    if (Cause.isInterruptedOnly(exit.cause)) return 130
    yield* Console.error(`codex-orchestrator: unexpected failure: ${Cause.pretty(exit.cause).split("\n")[0]}`)
    return 1
  })

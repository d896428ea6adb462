import { CliConfig, type CliApp, HelpDoc, ValidationError } from "@effect/cli"
import * as Terminal from "@effect/platform/Terminal"
import { Cause, Console, Effect } from "effect"
import type { Base } from "./AppLayer.js"
import {
  type ConfigError,
  type CorruptFileError,
  type HistorySchemaError,
  InvalidInputError,
  type PersistenceError,
  type ResumeRefusedError,
  type RunBusyError,
  type RunNotFoundError
} from "./domain/Errors.js"
import { stripTerminalControls } from "./domain/TerminalText.js"
import { ExitCode } from "./ExitCode.js"

export const VERSION = "0.1.0"
export const NAME = "codex-orchestrator"
export const DESCRIPTION = "Run pipelines of shell stages and keep durable evidence of every run."
export const SUBCOMMANDS = ["start", "plan", "status", "resume", "history"] as const

export type CommandError =
  | InvalidInputError
  | ConfigError
  | RunNotFoundError
  | ResumeRefusedError
  | CorruptFileError
  | RunBusyError
  | HistorySchemaError
  | PersistenceError

export type CliProgram = (args: ReadonlyArray<string>) => Effect.Effect<void, CommandError | ValidationError.ValidationError, Base | CliApp.CliApp.Environment>

/** `--help` (or `--version`) anywhere on the line answers it, also after options that do not parse. */
export const cliConfig = CliConfig.layer({ finalCheckBuiltIn: true })

/** A usage error of the parser as one line: its text without styling, an unknown word named as an option. */
const usageLine = (error: ValidationError.ValidationError, argv: ReadonlyArray<string>): string => {
  const text = stripTerminalControls(HelpDoc.toAnsiText(error.error)).replace(/\s+/g, " ").trim()
  const unknown = /^Received unknown argument: '(-[^']*)'$/.exec(text)
  const line = unknown === null ? text : `unknown option '${unknown[1]}'`
  const sub = SUBCOMMANDS.find((name) => name === argv[0])
  return `${line} (see '${NAME} ${sub === undefined ? "" : `${sub} `}--help')`
}

const failed = (message: string, code: number) => Effect.as(Console.error(`${NAME}: ${message}`), code)
const usage = (error: { readonly message: string }) => failed(error.message, 2)

// The one edge that decides the exit code: the answer's own, 2 for what the user can fix, 1 for what went
// wrong. Every error is one line on stderr; the parser's own rendering is swallowed so it is said once.
export const main = (argv: ReadonlyArray<string>, cli: CliProgram) =>
  decided(Effect.gen(function*() {
    if (argv.includes("--wizard") && !(yield* Effect.flatMap(Terminal.Terminal, (t) => t.isTTY))) {
      return yield* new InvalidInputError({ message: "--wizard asks its questions on a terminal; run it from one" })
    }
    const quiet = yield* Console.consoleWith((console) => Effect.succeed({ ...console, error: () => Effect.void }))
    yield* cli(["node", NAME, ...argv]).pipe(Effect.withConsole(quiet), Effect.provide(cliConfig))
    return yield* ExitCode.get
  }).pipe(
    Effect.catchIf(ValidationError.isValidationError, (error) => failed(usageLine(error, argv), 2)),
    Effect.catchTags({
      InvalidInputError: usage,
      ConfigError: usage,
      RunNotFoundError: usage,
      ResumeRefusedError: usage,
      CorruptFileError: usage,
      RunBusyError: usage,
      HistorySchemaError: usage,
      PersistenceError: (error) => failed(error.message, 1)
    })
  ))

/** Every failure a command can have is mapped above, by tag: one renamed or added fails to compile here. */
const decided = <R>(answered: Effect.Effect<number, never, R>) =>
  answered.pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.succeed(130) : failed(`unexpected failure: ${Cause.pretty(cause).split("\n")[0]}`, 1))
  )

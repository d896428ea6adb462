import { Command, CommandExecutor } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Context, Data, Effect, Layer, type Scope, Stream } from "effect"
import type { PendingOutput } from "./output/PendingOutput.js"

/** The stage could not be run at all (missing cwd, no shell, unreadable pipe). */
export class StageSpawnError extends Data.TaggedError("StageSpawnError")<{
  readonly index: number
  readonly reason: string
  readonly message: string
  readonly cause?: unknown
}> {}

export interface SpawnRequest {
  /** 1-based stage index, for error messages. */
  readonly index: number
  /** Run with `bash -c` in `cwd`. */
  readonly command: string
  readonly cwd: string
  /** The stage's own variables, merged over the orchestrator's environment. */
  readonly env: Readonly<Record<string, string>>
}

/** How the command itself ended: a code, or the signal that killed it. */
export interface ExitStatus {
  readonly exitCode: number | null
  readonly signal: string | null
}

/** One output pipe of a started command. */
export interface OutputPipe {
  /**
   * Reads the pipe to its end into `pending`, stopping whenever it is full; ends `pending` however
   * the reading ends. Interrupting it stops reading.
   */
  readonly drainInto: (pending: PendingOutput) => Effect.Effect<void, StageSpawnError>
}

/** A command started in its own process group, alive as long as the scope it was spawned in. */
export interface SpawnedCommand {
  readonly pid: number
  /** Waits for the command's own process to exit (not for what it left running). */
  readonly exit: Effect.Effect<ExitStatus>
  readonly isRunning: Effect.Effect<boolean>
  /** Signals the whole process group, then waits for the command's own process to exit. */
  readonly kill: (signal: "SIGTERM" | "SIGKILL") => Effect.Effect<void>
  readonly stdout: OutputPipe
  readonly stderr: OutputPipe
}

/**
 * Starts stage commands. The seam between StageProcess (what happens to the bytes, when a stage
 * ends) and the operating system: `NodeStageSpawner` is the one the CLI uses; `fromCommandExecutor`
 * runs stages on any @effect/platform CommandExecutor, such as the scripted one the unit tests use.
 */
export class StageSpawner extends Context.Tag("codex-orchestrator/StageSpawner")<
  StageSpawner,
  { readonly spawn: (request: SpawnRequest) => Effect.Effect<SpawnedCommand, StageSpawnError, Scope.Scope> }
>() {
  static readonly fromCommandExecutor: Layer.Layer<StageSpawner, never, CommandExecutor.CommandExecutor> = Layer.effect(
    StageSpawner,
    Effect.map(CommandExecutor.CommandExecutor, (executor) => ({ spawn: spawnWith(executor) }))
  )
}

export const platformSpawnError = (request: SpawnRequest, what: string) => (error: PlatformError) =>
  new StageSpawnError({
    index: request.index,
    reason: error._tag === "SystemError" ? error.reason : error._tag,
    message: `stage ${request.index} ${what}: ${error.message}`,
    cause: error
  })

const SIGNAL_IN_MESSAGE = /signal:\s*(SIG[A-Z0-9]+)/

/** The platform reports a death by signal as a failure of `exitCode`; here it is just how the command ended. */
const awaitExit = (process: CommandExecutor.Process): Effect.Effect<ExitStatus> =>
  process.exitCode.pipe(
    Effect.map((code): ExitStatus => ({ exitCode: code, signal: null })),
    Effect.catchAll((error) =>
      Effect.succeed<ExitStatus>({ exitCode: null, signal: SIGNAL_IN_MESSAGE.exec(error.message)?.[1] ?? "unknown" })
    )
  )

const streamPipe = (request: SpawnRequest, stream: Stream.Stream<Uint8Array, PlatformError>, name: string): OutputPipe => ({
  drainInto: (pending) =>
    Stream.runForEach(stream, (chunk) => pending.push(chunk)).pipe(
      Effect.mapError(platformSpawnError(request, `could not read ${name}`)),
      Effect.ensuring(Effect.sync(() => pending.end()))
    )
})

const spawnWith = (executor: CommandExecutor.CommandExecutor) => (request: SpawnRequest) => {
  const command = Command.make("bash", "-c", request.command).pipe(
    Command.workingDirectory(request.cwd),
    Command.env(request.env),
    Command.stdin(Stream.empty)
  )
  return executor.start(command).pipe(
    Effect.mapError(platformSpawnError(request, "could not start")),
    Effect.map((process): SpawnedCommand => ({
      pid: process.pid,
      exit: awaitExit(process),
      isRunning: process.isRunning.pipe(Effect.orElseSucceed(() => false)),
      kill: (signal) => process.kill(signal).pipe(Effect.ignore),
      stdout: streamPipe(request, process.stdout, "stdout"),
      stderr: streamPipe(request, process.stderr, "stderr")
    }))
  )
}

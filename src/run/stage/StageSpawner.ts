import { Command, CommandExecutor } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Context, Data, Deferred, Effect, Layer, type Scope, Stream } from "effect"

/** The stage could not be run at all (missing cwd, no shell, unreadable pipe). */
export class StageSpawnError extends Data.TaggedError("StageSpawnError")<{
  readonly index: number
  readonly reason: string
  readonly message: string
  readonly cause?: unknown
}> {}

export interface SpawnRequest {
  /** 1-based. */
  readonly index: number
  readonly command: string
  readonly cwd: string
  /** The whole environment: what it inherits with the stage's own variables over it. */
  readonly env: Readonly<Record<string, string | undefined>>
}

export interface ExitStatus {
  readonly exitCode: number | null
  readonly signal: string | null
}

/** A command started in its own process group, alive as long as the scope it was spawned in. */
export interface SpawnedCommand {
  readonly pid: number
  /** Waits for the command's own process to exit (not for what it left running). */
  readonly exit: Effect.Effect<ExitStatus>
  /** Signals the whole process group; does not wait for anything. */
  readonly signal: (signal: "SIGTERM" | "SIGKILL") => Effect.Effect<void>
  /** The output, in batches; a batch is only valid until the next one is pulled. */
  readonly stdout: Stream.Stream<Uint8Array, StageSpawnError>
  readonly stderr: Stream.Stream<Uint8Array, StageSpawnError>
  /** Stops reading: both streams end with what was read (a process that left the group may hold the pipes). */
  readonly detach: Effect.Effect<void>
}

// The seam between a stage's bytes (StageProcess) and the OS: `NodeStageSpawner` for the CLI,
// `fromCommandExecutor` for any CommandExecutor, such as the unit tests' scripted one.
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

const spawnWith = (executor: CommandExecutor.CommandExecutor) => (request: SpawnRequest) =>
  Effect.gen(function*() {
    const env: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.env)) if (value !== undefined) env[name] = value
    const command = Command.make("bash", "-c", request.command).pipe(
      Command.workingDirectory(request.cwd),
      Command.env(env),
      Command.stdin(Stream.empty)
    )
    const process = yield* executor.start(command).pipe(Effect.mapError(platformSpawnError(request, "could not start")))
    const scope = yield* Effect.scope
    const detached = yield* Deferred.make<void>()
    const output = (stream: Stream.Stream<Uint8Array, PlatformError>, name: string) =>
      stream.pipe(Stream.mapError(platformSpawnError(request, `could not read ${name}`)), Stream.interruptWhen(Deferred.await(detached)))
    return {
      pid: process.pid,
      exit: awaitExit(process),
      // The platform's kill waits for the exit; the seam promises only to send the signal.
      signal: (signal) => Effect.asVoid(Effect.forkIn(Effect.ignore(process.kill(signal)), scope)),
      stdout: output(process.stdout, "stdout"),
      stderr: output(process.stderr, "stderr"),
      detach: Deferred.succeed(detached, undefined).pipe(Effect.asVoid)
    } satisfies SpawnedCommand
  })

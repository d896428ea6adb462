import { Command, CommandExecutor } from "@effect/platform"
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import { Deferred, Duration, Effect, Inspectable, Layer, Option, Sink, Stream } from "effect"
import { StageProcess } from "../../src/run/stage/StageProcess.js"
import { StageSpawner } from "../../src/run/stage/StageSpawner.js"

/** How one scripted command behaves; time passes on the Clock, so TestClock drives it. */
export interface ScriptedCommand {
  readonly stdout?: ReadonlyArray<string | Uint8Array>
  readonly stderr?: ReadonlyArray<string | Uint8Array>
  /** Exit code once `durationMs` has passed (default 0). */
  readonly exitCode?: number
  /** Dies by this signal instead of exiting with a code. */
  readonly signal?: string
  readonly durationMs?: number
  readonly ignoresSigterm?: boolean
  /** A grandchild keeps the pipes open this long after the command exits (Infinity: until it is killed). */
  readonly holdsPipeMs?: number
  /** Fails to start, as a missing cwd or shell would. */
  readonly spawnError?: SystemErrorReason
}

export type Script = Readonly<Record<string, ScriptedCommand>> | ((command: string) => ScriptedCommand | undefined)

/** What a test can inspect afterwards: every command started, where, and the signals it received. */
export interface ScriptedCall {
  readonly command: string
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string>>
  readonly signals: Array<string>
}

interface ExitStatus {
  readonly code: number | null
  readonly signal: string | null
}

const bytes = (part: string | Uint8Array): Uint8Array =>
  typeof part === "string" ? new TextEncoder().encode(part) : part

const commandError = (method: string, reason: SystemErrorReason, description: string) =>
  new SystemError({ reason, module: "Command", method, description })

/** The shell command a StageProcess runs: the `-c` argument of `bash -c`. */
const scriptedText = (command: Command.Command): string =>
  command._tag === "StandardCommand" ? (command.args.at(-1) ?? command.command) : "<piped>"

const lookup = (script: Script, command: string): ScriptedCommand | undefined =>
  typeof script === "function" ? script(command) : script[command]

const startScripted = (script: Script, calls: Array<ScriptedCall>) => (command: Command.Command) =>
  Effect.gen(function* () {
    const text = scriptedText(command)
    const scripted = lookup(script, text)
    if (scripted === undefined) {
      return yield* Effect.fail(commandError("spawn", "NotFound", `no script for command ${JSON.stringify(text)}`))
    }
    if (scripted.spawnError !== undefined) {
      return yield* Effect.fail(commandError("spawn", scripted.spawnError, `scripted failure of ${JSON.stringify(text)}`))
    }
    const call: ScriptedCall = {
      command: text,
      cwd: command._tag === "StandardCommand" ? Option.getOrUndefined(command.cwd) : undefined,
      env: command._tag === "StandardCommand" ? Object.fromEntries(command.env) : {},
      signals: []
    }
    calls.push(call)
    const exit = yield* Deferred.make<ExitStatus>()
    const groupGone = yield* Deferred.make<void>()
    yield* Effect.forkScoped(
      (scripted.durationMs ? Effect.sleep(Duration.millis(scripted.durationMs)) : Effect.void).pipe(
        Effect.zipRight(Deferred.succeed(exit, { code: scripted.signal === undefined ? (scripted.exitCode ?? 0) : null, signal: scripted.signal ?? null }))
      )
    )
    const holdMs = scripted.holdsPipeMs ?? 0
    const pipeOpen = Deferred.await(exit).pipe(
      Effect.zipRight(
        holdMs === Infinity
          ? Deferred.await(groupGone)
          : Effect.raceFirst(Effect.sleep(Duration.millis(holdMs)), Deferred.await(groupGone))
      )
    )
    const output = (parts: ReadonlyArray<string | Uint8Array> | undefined) =>
      Stream.fromIterable((parts ?? []).map(bytes)).pipe(Stream.concat(Stream.drain(Stream.fromEffect(holdMs > 0 ? pipeOpen : Effect.void))))
    const kill = (signal: CommandExecutor.Signal = "SIGTERM") =>
      Effect.gen(function* () {
        call.signals.push(signal)
        if (signal === "SIGTERM" && scripted.ignoresSigterm === true) return yield* Deferred.await(exit).pipe(Effect.asVoid)
        yield* Deferred.succeed(exit, { code: null, signal })
        yield* Deferred.succeed(groupGone, undefined)
      })
    const process: CommandExecutor.Process = {
      [CommandExecutor.ProcessTypeId]: CommandExecutor.ProcessTypeId,
      pid: CommandExecutor.ProcessId(1000 + calls.length),
      exitCode: Effect.flatMap(Deferred.await(exit), (status) =>
        status.code !== null
          ? Effect.succeed(CommandExecutor.ExitCode(status.code))
          : Effect.fail(commandError("exitCode", "Unknown", `Process interrupted due to receipt of signal: ${status.signal}`))
      ),
      isRunning: Effect.negate(Deferred.isDone(exit)),
      kill,
      stdin: Sink.drain,
      stdout: output(scripted.stdout),
      stderr: output(scripted.stderr),
      toString: () => `ScriptedProcess(${text})`,
      toJSON: () => ({ _id: "ScriptedProcess", command: text }),
      [Inspectable.NodeInspectSymbol]: () => ({ _id: "ScriptedProcess", command: text })
    }
    return process
  })

export const ScriptedExecutor = {
  /** A CommandExecutor whose commands follow `script`; `calls` fills in as commands start. */
  make: (script: Script) => {
    const calls: Array<ScriptedCall> = []
    return { executor: CommandExecutor.makeExecutor(startScripted(script, calls)), calls }
  },
  layer: (script: Script): Layer.Layer<CommandExecutor.CommandExecutor> =>
    Layer.succeed(CommandExecutor.CommandExecutor, ScriptedExecutor.make(script).executor),
  /** The real StageProcess (logs, capture, masking, timeouts) over a given scripted executor. */
  stageProcessOn: (executor: CommandExecutor.CommandExecutor): Layer.Layer<StageProcess> =>
    StageProcess.layer.pipe(
      Layer.provide(StageSpawner.fromCommandExecutor),
      Layer.provide(Layer.succeed(CommandExecutor.CommandExecutor, executor))
    ),
  /** Stages as scripted commands, for the app's own layers (engine and fault tests). */
  spawner: (script: Script): Layer.Layer<StageSpawner> =>
    StageSpawner.fromCommandExecutor.pipe(Layer.provide(ScriptedExecutor.layer(script)))
}

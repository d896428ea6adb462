import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Terminal from "@effect/platform/Terminal"
import { Cause, Chunk, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, TestClock } from "effect"
import { baseLayer } from "../../src/AppLayer.js"
import { fullCli } from "../../src/FullCli.js"
import { main } from "../../src/Cli.js"
import { Progress } from "../../src/run/Progress.js"
import { Shutdown } from "../../src/run/Shutdown.js"
import { Settings } from "../../src/Settings.js"
import { type FaultReason, MemoryFileSystem, type MemoryFileSystemShape, type Operation } from "./MemoryFileSystem.js"
import { type Script, ScriptedExecutor } from "./ScriptedExecutor.js"
import { capturingConsole, text } from "./CapturingConsole.js"

export const ROOT = "/repo"

/** Nothing in a run reads the terminal; a call to it would be a bug the test should see. */
const noTerminal = Layer.succeed(Terminal.Terminal, {
  columns: Effect.succeed(80),
  rows: Effect.succeed(24),
  isTTY: Effect.succeed(false),
  readInput: Effect.dieMessage("no terminal in fault tests"),
  readLine: Effect.dieMessage("no terminal in fault tests"),
  display: () => Effect.void
})


/** A fault to inject: which call of the in-memory disk fails, on which paths, with which errno. */
export interface Fault {
  readonly operation: Operation
  readonly matches: (path: string) => boolean
  readonly reason: FaultReason
  readonly mode: "once" | "always"
}

export interface FaultRun {
  readonly code: number
  readonly exit: Exit.Exit<number>
  readonly stdout: string
  readonly stderr: ReadonlyArray<string>
  /** `LEVEL message: failure messages of its cause` for every line at info level or above. */
  readonly logs: ReadonlyArray<string>
  /** Every defect logged anywhere, debug level included (a fiber that died unseen is logged there). */
  readonly defects: ReadonlyArray<string>
  /** How many calls the fault actually failed. */
  readonly injected: number
  readonly disk: MemoryFileSystemShape
}

export interface FaultRunOptions {
  /** The project's config (its text when a string); none when undefined. */
  readonly config: unknown
  readonly script: Script
  readonly argv: ReadonlyArray<string>
  /** Files on the disk before the run, path relative to ROOT. */
  readonly seed?: Readonly<Record<string, string>>
  readonly fault?: Fault
  /** Clock time after which the fault is armed: 0 before anything runs, else while the run is under way. */
  readonly armAfterMillis?: number
  /** Clock time to give the run, in 1 s steps; it must be done by then. */
  readonly budgetSeconds?: number
}

/**
 * Runs the real CLI (`main`) over an in-memory disk and scripted commands, drives the TestClock until
 * the run answers, and reports what a user would see plus how many calls the fault failed.
 */
export const runWithFault = (options: FaultRunOptions) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const logs: Array<string> = []
    const defects: Array<string> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ cause, logLevel, message }) => {
        if (Cause.isDie(cause)) defects.push(Cause.pretty(cause))
        if (LogLevel.lessThan(logLevel, LogLevel.Info)) return
        const failures = Chunk.toArray(Cause.failures(cause)).map((error) => (error instanceof Error ? error.message : String(error)))
        logs.push(`${logLevel.label} ${text([message].flat())}${failures.length === 0 ? "" : `: ${failures.join("; ")}`}`)
      })
    )
    const disk = yield* MemoryFileSystem
    if (options.config !== undefined) {
      const text = typeof options.config === "string" ? options.config : JSON.stringify(options.config, null, 2)
      yield* disk.seed(`${ROOT}/codex.orchestrator.json`, text)
    }
    for (const [file, content] of Object.entries(options.seed ?? {})) yield* disk.seed(`${ROOT}/${file}`, content)

    const fault = options.fault
    const arm = fault === undefined
      ? Effect.void
      : (fault.mode === "once" ? disk.failNext : disk.failAlways)(fault.operation, fault.matches, fault.reason)
    const armedAt = options.armAfterMillis ?? 0
    const opsBefore = (yield* disk.operations).length
    if (armedAt === 0) yield* arm

    const platform = Layer.mergeAll(Layer.succeed(FileSystem.FileSystem, yield* FileSystem.FileSystem), noTerminal, Path.layer)
    const base = baseLayer({
      platform,
      settings: Settings.layer(Settings.make(ROOT, { env: {} })),
      shutdown: Shutdown.layer,
      progress: Progress.silent
    })
    const fiber = yield* main(options.argv, fullCli(ScriptedExecutor.spawner(options.script))).pipe(
      Effect.provide(base),
      Effect.provide(Layer.merge(logger, Logger.minimumLogLevel(LogLevel.Debug))),
      Effect.withConsole(capturingConsole(out, err)),
      Effect.exit,
      Effect.fork
    )
    const budget = options.budgetSeconds ?? 120
    let armedOps = opsBefore
    for (let second = 1; second <= budget; second++) {
      yield* TestClock.adjust("1 second")
      if (armedAt > 0 && second * 1000 === armedAt) {
        armedOps = (yield* disk.operations).length
        yield* arm
      }
      if (Option.isSome(yield* Fiber.poll(fiber))) break
    }
    const done = yield* Fiber.poll(fiber)
    if (Option.isNone(done)) return yield* Effect.dieMessage(`the run did not answer within ${budget} s of clock time`)
    const exit = Exit.flatten(done.value)

    let injected = 0
    if (fault !== undefined) {
      const hits = (yield* disk.operations).slice(armedOps).filter((op) => op.operation === fault.operation && fault.matches(op.path))
      injected = fault.mode === "once" ? Math.min(1, hits.length) : hits.length
    }
    return {
      code: Exit.isSuccess(exit) ? exit.value : -1,
      exit,
      stdout: out.join("\n"),
      stderr: err,
      logs,
      defects,
      injected,
      disk
    } satisfies FaultRun
  })

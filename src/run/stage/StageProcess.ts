import { Cause, Clock, Context, Duration, Effect, Exit, Fiber, Layer, Option } from "effect"
import { DEFAULT_STOP_GRACE_MS } from "../../domain/ProjectConfig.js"
import type { PersistenceError } from "../../domain/Errors.js"
import type { Redactor } from "../../domain/Redactor.js"
import { isoAt } from "../../domain/Timestamp.js"
import type { StageLogs } from "../../persistence/RunDirectory.js"
import { encodeEvents } from "../output/EventLines.js"
import type { StopSignal } from "../Shutdown.js"
import { type CapturedStream, type OutputCounter, pipeOutput, writeBoth } from "./StageOutput.js"
import { type ExitStatus, type SpawnedCommand, StageSpawner, type StageSpawnError } from "./StageSpawner.js"

export { StageSpawnError } from "./StageSpawner.js"

export interface StageRequest {
  /** 1-based stage index. */
  readonly index: number
  readonly command: string
  readonly cwd: string
  /** The whole environment of the command. */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly timeoutMs?: number | undefined
  /** Between SIGTERM and SIGKILL when the stage is stopped. */
  readonly stopGraceMs?: number | undefined
  readonly logs: StageLogs
  readonly redactor: Redactor
  /** The stage is then stopped like a timeout. */
  readonly stop?: Effect.Effect<StopSignal> | undefined
  readonly onSpawned?: ((pid: number) => Effect.Effect<void>) | undefined
  readonly counter?: OutputCounter | undefined
}

export interface StageOutcome {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly cancelledBy: StopSignal | null
  readonly stdout: CapturedStream
  readonly stderr: CapturedStream
}

export interface StageProcessShape {
  readonly run: (request: StageRequest) => Effect.Effect<StageOutcome, StageSpawnError | PersistenceError>
}

/** How long output may still flow after the command exits before what holds its pipes is stopped. */
export const OUTPUT_GRACE = Duration.seconds(1)

type Ending =
  | { readonly _tag: "Exited"; readonly status: ExitStatus }
  | { readonly _tag: "Stop"; readonly why: StopSignal | "timeout" }
  | { readonly _tag: "Broken"; readonly error: StageSpawnError | PersistenceError }

/** A wait that a timeout can cut short also inside a finalizer, where everything else is uninterruptible. */
const within = <A>(effect: Effect.Effect<A>, duration: Duration.DurationInput) => Effect.timeoutOption(Effect.interruptible(effect), duration)

/** The one way a stage is stopped, whatever asked (timeout, signal, broken log, interruption). */
const stopGroup = (command: SpawnedCommand, grace: Duration.Duration): Effect.Effect<ExitStatus> =>
  Effect.gen(function*() {
    yield* command.signal("SIGTERM")
    const stopped = yield* within(command.exit, grace)
    if (Option.isSome(stopped)) return stopped.value
    yield* command.signal("SIGKILL")
    return Option.getOrElse(yield* within(command.exit, OUTPUT_GRACE), (): ExitStatus => ({ exitCode: null, signal: "SIGKILL" }))
  })

// After the command's exit, what still holds its pipes is stopped after OUTPUT_GRACE; a process that
// left the group (setsid) may hold them for ever, so reading ends there.
const settleOutput = (command: SpawnedCommand, output: Fiber.Fiber<unknown, unknown>, grace: Duration.Duration, stopped: boolean) =>
  Effect.gen(function*() {
    if (Option.isSome(yield* within(Fiber.await(output), OUTPUT_GRACE))) return
    if (!stopped) {
      yield* stopGroup(command, grace)
      if (Option.isSome(yield* within(Fiber.await(output), OUTPUT_GRACE))) return
    }
    yield* command.detach
    yield* within(Fiber.await(output), OUTPUT_GRACE)
  })

const endEvent = (index: number, status: ExitStatus, endedAt: number) =>
  encodeEvents([{
    type: "command:end",
    exit_code: status.exitCode,
    ...(status.signal === null ? {} : { signal: status.signal }),
    timestamp: isoAt(endedAt),
    index
  }])

const makeRun = (spawner: StageSpawner["Type"]) =>
  Effect.fnUntraced(function*(request: StageRequest) {
    const grace = Duration.millis(request.stopGraceMs ?? DEFAULT_STOP_GRACE_MS)
    const counter = request.counter ?? { bytes: 0 }
    const writeEnd = (status: ExitStatus) =>
      Effect.flatMap(Clock.currentTimeMillis, (endedAt) => writeBoth(request.logs, endEvent(request.index, status, endedAt)))
    yield* writeBoth(request.logs, encodeEvents([
      { type: "command:start", command: request.redactor.mask(request.command), timestamp: isoAt(yield* Clock.currentTimeMillis), index: request.index }
    ]))
    return yield* Effect.scoped(Effect.gen(function*() {
      const command = yield* spawner.spawn(request)
      if (request.onSpawned !== undefined) yield* request.onSpawned(command.pid)
      const pipe = (type: "command:stdout" | "command:stderr") =>
        pipeOutput({ type, index: request.index, stream: type === "command:stdout" ? command.stdout : command.stderr, logs: request.logs, redactor: request.redactor, counter })
      const output = yield* Effect.forkScoped(Effect.all([pipe("command:stdout"), pipe("command:stderr")], { concurrency: 2 }))

      // A broken log ends the wait at once, or the command could block on a full pipe.
      const broken = Effect.flatMap(Fiber.await(output), (exit) =>
        Exit.isFailure(exit)
          ? Option.match(Cause.failureOption(exit.cause), {
            onNone: () => Effect.never,
            onSome: (error) => Effect.succeed<Ending>({ _tag: "Broken", error })
          })
          : Effect.never)
      const endings: ReadonlyArray<Effect.Effect<Ending>> = [
        Effect.map(command.exit, (status): Ending => ({ _tag: "Exited", status })),
        Effect.map(request.stop ?? Effect.never, (why): Ending => ({ _tag: "Stop", why })),
        request.timeoutMs === undefined ? Effect.never : Effect.as(Effect.sleep(Duration.millis(request.timeoutMs)), { _tag: "Stop", why: "timeout" } as const),
        broken
      ]
      const ending = yield* Effect.raceAll(endings).pipe(
        // Interrupted from outside (a failing sibling, a test): stopped the same way, its output kept.
        Effect.onInterrupt(() =>
          Effect.gen(function*() {
            const status = yield* stopGroup(command, grace)
            yield* settleOutput(command, output, grace, true)
            yield* writeEnd(status).pipe(Effect.catchAll((error) => Effect.logWarning(`stage ${request.index}: could not log its end: ${error.message}`)))
          }))
      )
      const status = ending._tag === "Exited" ? ending.status : yield* stopGroup(command, grace)
      yield* settleOutput(command, output, grace, ending._tag !== "Exited")
      if (ending._tag === "Broken") return yield* ending.error
      const [stdout, stderr] = yield* Fiber.join(output)
      yield* writeEnd(status)
      const why = ending._tag === "Stop" ? ending.why : null
      return {
        exitCode: status.exitCode,
        signal: status.signal,
        timedOut: why === "timeout",
        cancelledBy: why === "timeout" ? null : why,
        stdout,
        stderr
      } satisfies StageOutcome
    }))
  })

export class StageProcess extends Context.Tag("codex-orchestrator/StageProcess")<StageProcess, StageProcessShape>() {
  static readonly layer: Layer.Layer<StageProcess, never, StageSpawner> = Layer.effect(
    StageProcess,
    Effect.map(StageSpawner, (spawner) => ({ run: makeRun(spawner) }))
  )
}

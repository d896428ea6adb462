import type { FileSystem } from "@effect/platform/FileSystem"
import { Cause, Clock, Context, Duration, Effect, Exit, Fiber, Layer, Option } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import type { StageErrorFile } from "../domain/Records.js"
import { BoundedCapture } from "./output/BoundedCapture.js"
import { type EncodedEvents, encodeEvents, type NdjsonLog, OutputLineEncoder } from "./output/NdjsonLog.js"
import { withRoom } from "./output/Grow.js"
import { PendingOutput } from "./output/PendingOutput.js"
import type { Redactor, StreamMasker } from "./output/Redactor.js"
import { capturedText, Utf8StreamDecoder } from "./output/Utf8.js"
import { isoAt } from "../domain/Timestamp.js"
import { NodeStageSpawner } from "./NodeStageSpawner.js"
import { type ExitStatus, type OutputPipe, type SpawnedCommand, StageSpawner, type StageSpawnError } from "./StageSpawner.js"

export { StageSpawnError } from "./StageSpawner.js"

export interface StageRequest {
  /** 1-based stage index. */
  readonly index: number
  /** Run with `bash -c` in `cwd`. */
  readonly command: string
  readonly cwd: string
  /** The stage's own variables, merged over the orchestrator's environment. */
  readonly env: Readonly<Record<string, string>>
  readonly timeoutMs?: number | undefined
  readonly stageLog: NdjsonLog
  readonly runnerLog: NdjsonLog
  readonly redactor: Redactor
}

/** What was kept of one stream (masked, at most 64 KiB) and how much it produced. */
export interface CapturedStream {
  /** The kept text; when truncated, the kept start and end joined by `…`. */
  readonly text: string
  readonly head: string
  /** The kept end when truncated, else empty. */
  readonly tail: string
  /** Bytes the command wrote to this stream. */
  readonly totalBytes: number
  /** Bytes of the (masked) stream that were not kept in memory. */
  readonly droppedBytes: number
  readonly truncated: boolean
}

export interface StageOutcome {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly stdout: CapturedStream
  readonly stderr: CapturedStream
}

export interface StageProcessShape {
  readonly run: (request: StageRequest) => Effect.Effect<StageOutcome, StageSpawnError | PersistenceError>
}

/** How long output may still flow after the command exits before its process group is stopped. */
export const OUTPUT_GRACE = Duration.seconds(1)
/** How long a process group has between SIGTERM and SIGKILL. */
export const KILL_GRACE = Duration.seconds(2)

const ELLIPSIS = "…"

/** With secrets to mask, a batch is decoded and masked this much at a time. */
const MASK_PIECE_BYTES = 16 * 1024

/**
 * One stream's path: bytes counted, logged and captured within bounds. Without secrets to mask the
 * bytes go straight into ndjson lines (OutputLineEncoder); with secrets they are decoded and masked
 * as text first, and the capture keeps the masked text so summaries never see a secret either.
 */
class StreamState {
  readonly capture = new BoundedCapture()
  private readonly decoder = new Utf8StreamDecoder()
  private readonly lines: OutputLineEncoder
  private readonly masker: StreamMasker
  private totalBytes = 0
  /** Masked output of the current batch, as UTF-8. */
  private maskedBytes = Buffer.allocUnsafe(0)

  constructor(
    private readonly type: "command:stdout" | "command:stderr",
    private readonly request: StageRequest
  ) {
    this.lines = new OutputLineEncoder(type, request.index)
    this.masker = request.redactor.streaming()
  }

  /** The line for a batch of bytes (if it completes any text); write it before the next call. */
  take(batch: Uint8Array, millis: number): EncodedEvents | undefined {
    this.totalBytes += batch.length
    if (this.request.redactor.isEmpty) {
      this.capture.push(batch)
      return this.lines.encode([batch], isoAt(millis))
    }
    // Piece by piece, not the batch as one string: megabyte strings are old-space garbage that only a
    // full GC frees, piece-sized ones die young. The masked text is encoded into one reused buffer.
    let length = 0
    for (let offset = 0; offset < batch.length; offset += MASK_PIECE_BYTES) {
      const masked = this.masker.push(this.decoder.decode(batch.subarray(offset, offset + MASK_PIECE_BYTES)))
      if (masked.length === 0) continue
      // At most 3 bytes per UTF-16 unit.
      this.maskedBytes = withRoom(this.maskedBytes, length + masked.length * 3, length)
      length += this.maskedBytes.write(masked, length, "utf8")
    }
    return length === 0 ? undefined : this.keepMasked(this.maskedBytes.subarray(0, length), millis)
  }

  /** What the decoder and the masker still hold, once the stream is over. */
  finish(millis: number): EncodedEvents | undefined {
    if (this.request.redactor.isEmpty) return this.lines.flush(isoAt(millis))
    return this.masked(this.masker.push(this.decoder.flush()) + this.masker.flush(), millis)
  }

  private masked(data: string, millis: number): EncodedEvents | undefined {
    return data.length === 0 ? undefined : this.keepMasked(Buffer.from(data, "utf8"), millis)
  }

  private keepMasked(bytes: Uint8Array, millis: number): EncodedEvents | undefined {
    this.capture.push(bytes)
    return this.lines.encode([bytes], isoAt(millis))
  }

  captured(): CapturedStream {
    const snapshot = this.capture.snapshot()
    const { head, tail } = capturedText(snapshot)
    const truncated = snapshot.droppedBytes > 0
    return {
      text: truncated ? head + ELLIPSIS + tail : head,
      head,
      tail,
      totalBytes: this.totalBytes,
      droppedBytes: snapshot.droppedBytes,
      truncated
    }
  }
}

/** One log after the other: forking two fibers per chunk cost more time and heap than it saved. */
const writeBoth = (request: StageRequest, lines: EncodedEvents) =>
  Effect.zipRight(request.stageLog.appendEncoded(lines), request.runnerLog.appendEncoded(lines))

/** Output short of a whole batch is written once it has waited this long at most. */
export const FLUSH_DELAY = Duration.millis(50)

/** Output that could not be written while the stage was being interrupted: said, not raised. */
const warnUnwritten = (request: StageRequest, what: string) => (error: PersistenceError) =>
  Effect.logWarning(`stage ${request.index}: could not write ${what}: ${error.message}`)

/**
 * Reads and writes in two fibers joined by PendingOutput: the pipe keeps being read while a line is
 * written, and a line takes everything that arrived meanwhile, waiting up to FLUSH_DELAY for a whole
 * batch, so the logs get a few large writes rather than two per read. A batch is written whole
 * (uninterruptibly), and what was read when the pump is interrupted is written too, so the logs keep
 * every byte read, in order, ahead of `command:end`.
 */
const pump = (request: StageRequest, state: StreamState, pipe: OutputPipe) =>
  Effect.gen(function* () {
    const pending = new PendingOutput()
    // Due within two periods of arriving.
    yield* Effect.forkScoped(pending.flushEvery(Duration.unsafeDivide(FLUSH_DELAY, 2)))
    const writeBatch = Effect.gen(function* () {
      const batch = pending.take()
      const lines = state.take(batch.bytes, yield* Clock.currentTimeMillis)
      if (lines !== undefined) yield* writeBoth(request, lines)
      return batch.ended
    })
    const write = Effect.gen(function* () {
      while (true) {
        yield* pending.ready
        if (yield* Effect.uninterruptible(writeBatch)) return
      }
    })
    yield* Effect.all([pipe.drainInto(pending), write], { concurrency: 2, discard: true }).pipe(
      // Both fibers are over by then: nothing reads or writes `pending` any more.
      Effect.onInterrupt(() =>
        writeBatch.pipe(Effect.catchTag("PersistenceError", warnUnwritten(request, "the output read before the interruption")))
      )
    )
  }).pipe(Effect.scoped)

/** SIGTERM to the whole process group, SIGKILL if the command is still alive after the grace period. */
const stopGroup = (command: SpawnedCommand) =>
  Effect.gen(function* () {
    if (!(yield* command.isRunning)) return
    const stopped = yield* command.kill("SIGTERM").pipe(Effect.timeoutOption(KILL_GRACE))
    if (Option.isNone(stopped)) yield* command.kill("SIGKILL").pipe(Effect.timeoutOption(KILL_GRACE))
  })

/** After the command itself exited: stop whatever of its group still holds the pipes. */
const stopLeftovers = (command: SpawnedCommand, pumps: Fiber.Fiber<void, unknown>) =>
  Effect.gen(function* () {
    const drained = yield* Fiber.await(pumps).pipe(Effect.timeoutOption(OUTPUT_GRACE))
    if (Option.isSome(drained)) return
    yield* command.kill("SIGTERM")
    const afterTerm = yield* Fiber.await(pumps).pipe(Effect.timeoutOption(KILL_GRACE))
    if (Option.isSome(afterTerm)) return
    yield* command.kill("SIGKILL")
    const afterKill = yield* Fiber.await(pumps).pipe(Effect.timeoutOption(OUTPUT_GRACE))
    // A process that left the group (setsid) can hold the pipe forever: stop reading it.
    if (Option.isNone(afterKill)) yield* Fiber.interrupt(pumps)
  })

const endEvent = (request: StageRequest, status: ExitStatus, endedAt: number) =>
  encodeEvents([{
    type: "command:end",
    exit_code: status.exitCode,
    ...(status.signal === null ? {} : { signal: status.signal }),
    timestamp: isoAt(endedAt),
    index: request.index
  }])

/** What the decoders and maskers of both streams still hold, once the output is over. */
const writeRests = (request: StageRequest, streams: ReadonlyArray<StreamState>, endedAt: number) =>
  Effect.forEach(streams, (state) => {
    const rest = state.finish(endedAt)
    return rest === undefined ? Effect.void : writeBoth(request, rest)
  }, { discard: true })

/**
 * Every `command:start` gets its `command:end`, also when the stage was interrupted (the group is
 * stopped and the pumps have written what they read by then).
 */
const recordInterrupted = (request: StageRequest, command: SpawnedCommand, streams: ReadonlyArray<StreamState>) =>
  Effect.gen(function* () {
    const exit = yield* command.exit.pipe(Effect.timeoutOption(KILL_GRACE))
    const status = Option.getOrElse(exit, (): ExitStatus => ({ exitCode: null, signal: "SIGKILL" }))
    const endedAt = yield* Clock.currentTimeMillis
    yield* writeRests(request, streams, endedAt)
    yield* writeBoth(request, endEvent(request, status, endedAt))
  }).pipe(Effect.catchTag("PersistenceError", warnUnwritten(request, "the end of the interrupted command")))

const makeRun = (spawner: StageSpawner["Type"]) =>
  Effect.fn("StageProcess.run")(function* (request: StageRequest) {
    const startedAt = yield* Clock.currentTimeMillis
    yield* writeBoth(request, encodeEvents([
      { type: "command:start", command: request.redactor.mask(request.command), timestamp: isoAt(startedAt), index: request.index }
    ]))
    const stdout = new StreamState("command:stdout", request)
    const stderr = new StreamState("command:stderr", request)

    let started: SpawnedCommand | undefined
    const status = yield* Effect.scoped(
      Effect.gen(function* () {
        const command = yield* spawner.spawn(request)
        started = command
        // Runs before the spawner's own release: the group gets SIGTERM and a grace period first.
        yield* Effect.addFinalizer(() => stopGroup(command))
        const pumps = yield* Effect.forkScoped(
          Effect.all([pump(request, stdout, command.stdout), pump(request, stderr, command.stderr)], {
            concurrency: 2,
            discard: true
          })
        )
        // A failing pump (log write) must end the wait at once, or the command could block on a full pipe.
        const pumpFailure = Fiber.join(pumps).pipe(Effect.zipRight(Effect.never))
        const exited = command.exit.pipe(Effect.raceFirst(pumpFailure))
        const finished =
          request.timeoutMs === undefined
            ? Option.some(yield* exited)
            : yield* Effect.timeoutOption(exited, Duration.millis(request.timeoutMs))
        const status: ExitStatus & { readonly timedOut: boolean } = Option.isSome(finished)
          ? { ...finished.value, timedOut: false }
          : yield* stopGroup(command).pipe(
            Effect.zipRight(command.exit.pipe(Effect.timeoutOption(KILL_GRACE))),
            Effect.map((stopped) => ({
              exitCode: null,
              signal: Option.match(stopped, { onNone: () => "SIGKILL", onSome: (exit) => exit.signal }),
              timedOut: true
            }))
          )
        yield* stopLeftovers(command, pumps)
        const pumped = yield* Fiber.await(pumps)
        if (Exit.isFailure(pumped) && !Cause.isInterruptedOnly(pumped.cause)) yield* pumped
        return status
      })
    ).pipe(
      Effect.onInterrupt(() => (started === undefined ? Effect.void : recordInterrupted(request, started, [stdout, stderr])))
    )

    const endedAt = yield* Clock.currentTimeMillis
    yield* writeRests(request, [stdout, stderr], endedAt)
    yield* writeBoth(request, endEvent(request, status, endedAt))
    return {
      exitCode: status.exitCode,
      signal: status.signal,
      timedOut: status.timedOut,
      stdout: stdout.captured(),
      stderr: stderr.captured()
    } satisfies StageOutcome
  })

export class StageProcess extends Context.Tag("codex-orchestrator/StageProcess")<StageProcess, StageProcessShape>() {
  /** Stages on whatever StageSpawner is provided. */
  static readonly layer: Layer.Layer<StageProcess, never, StageSpawner> = Layer.effect(
    StageProcess,
    Effect.map(StageSpawner, (spawner) => ({ run: makeRun(spawner) }))
  )
  /** Stages as real child processes of this Node process (what the CLI runs). */
  static readonly Live: Layer.Layer<StageProcess, never, FileSystem> = StageProcess.layer.pipe(
    Layer.provide(NodeStageSpawner)
  )
}

const SUMMARY_LIMIT = 240

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim()

const clip = (text: string, limit: number): string => {
  const chars = Array.from(text)
  return chars.length <= limit ? text : chars.slice(0, limit - 1).join("") + ELLIPSIS
}

/** CONTRACT §5: the hint, else why it failed with the start of stderr, else the start of stdout. */
export const stageSummary = (outcome: StageOutcome, summaryHint: string | undefined): string => {
  if (summaryHint !== undefined && summaryHint.length > 0) return clip(summaryHint, SUMMARY_LIMIT)
  const failed = outcome.timedOut || outcome.exitCode !== 0
  if (!failed) return clip(oneLine(outcome.stdout.head), SUMMARY_LIMIT)
  const why = outcome.timedOut
    ? "Timed out"
    : outcome.exitCode === null
      ? `Killed by ${outcome.signal ?? "a signal"}`
      : `Exited with code ${outcome.exitCode}`
  const stderr = oneLine(outcome.stderr.head)
  return clip(stderr.length > 0 ? `${why} — ${stderr}` : why, SUMMARY_LIMIT)
}

/** Bytes a character takes once written inside a JSON string. */
const jsonCost = (char: string): number => {
  const code = char.codePointAt(0)!
  if (code === 0x22 || code === 0x5c) return 2
  if (code < 0x20) return code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d ? 2 : 6
  if (code < 0x80) return 1
  if (code < 0x800) return 2
  if (code >= 0xd800 && code <= 0xdfff) return 6
  return code < 0x10000 ? 3 : 4
}

const jsonBytes = (text: string): number => {
  let bytes = 0
  for (const char of text) bytes += jsonCost(char)
  return bytes
}

const startWithin = (text: string, budget: number): string => {
  let used = 0
  let end = 0
  for (const char of text) {
    used += jsonCost(char)
    if (used > budget) break
    end += char.length
  }
  return text.slice(0, end)
}

const endWithin = (text: string, budget: number): string => {
  const chars = Array.from(text)
  let used = 0
  let start = chars.length
  while (start > 0) {
    used += jsonCost(chars[start - 1]!)
    if (used > budget) break
    start--
  }
  return chars.slice(start).join("")
}

/** Room for stderr in an error file, counted in bytes as written (escapes included). */
export const ERROR_FILE_STDERR_BYTES = 8 * 1024
const ERROR_FILE_STDERR_START_BYTES = 1024

/** The error file's `details` (CONTRACT §5): at most 8 KiB of stderr, its start and mostly its end. */
export const errorFileDetails = (outcome: StageOutcome): StageErrorFile["details"] => {
  const { stderr, stdout } = outcome
  const fits = !stderr.truncated && jsonBytes(stderr.text) <= ERROR_FILE_STDERR_BYTES
  const start = fits ? stderr.text : startWithin(stderr.head, ERROR_FILE_STDERR_START_BYTES)
  const rest = stderr.truncated ? stderr.tail : stderr.head.slice(start.length)
  const end = fits ? "" : endWithin(rest, ERROR_FILE_STDERR_BYTES - jsonBytes(start) - jsonBytes(ELLIPSIS))
  return {
    exit_code: outcome.exitCode,
    stderr: fits ? stderr.text : start + ELLIPSIS + end,
    stderr_truncated: !fits,
    stdout_truncated: stdout.truncated,
    stdout_bytes: stdout.totalBytes,
    stderr_bytes: stderr.totalBytes,
    ...(outcome.signal === null ? {} : { signal: outcome.signal }),
    ...(outcome.timedOut ? { timed_out: true } : {})
  }
}

/** Manifest summary lines, one per stream that overflowed its capture. */
export const truncationLines = (stageId: string, outcome: StageOutcome): ReadonlyArray<string> =>
  (["stdout", "stderr"] as const).flatMap((name) => {
    const stream = outcome[name]
    return stream.truncated
      ? [`Stage ${stageId}: ${name} truncated, ${stream.droppedBytes} bytes dropped of ${stream.totalBytes}.`]
      : []
  })

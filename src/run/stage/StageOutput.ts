import { Clock, Effect, Stream } from "effect"
import type { PersistenceError } from "../../domain/Errors.js"
import type { EncodedEvents } from "../../domain/Records.js"
import type { Redactor } from "../../domain/Redactor.js"
import { isoAt } from "../../domain/Timestamp.js"
import type { StageLogs } from "../../persistence/RunDirectory.js"
import { type BatchSink, both } from "../output/BatchSink.js"
import { captureBatches } from "../output/BoundedCapture.js"
import { OutputLineEncoder } from "../output/EventLines.js"
import { withRoom } from "../output/Grow.js"
import { capturedText, Utf8StreamDecoder } from "../output/Utf8.js"
import type { StageSpawnError } from "./StageSpawner.js"

/** Masked, at most 64 KiB. */
export interface CapturedStream {
  /** When truncated, `head` and `tail` joined by `…`. */
  readonly text: string
  readonly head: string
  readonly tail: string
  readonly totalBytes: number
  readonly droppedBytes: number
  readonly truncated: boolean
}

export type OutputType = "command:stdout" | "command:stderr"

export const ELLIPSIS = "…"
const MASK_PIECE_BYTES = 16 * 1024

/** One log write after the other, whole: a batch is never half written, nor written after `command:end`. */
export const writeBoth = (logs: StageLogs, lines: EncodedEvents): Effect.Effect<void, PersistenceError> =>
  Effect.uninterruptible(Effect.zipRight(logs.stageLog.appendEncoded(lines), logs.runnerLog.appendEncoded(lines)))

// Piece by piece rather than the batch as one string: megabyte strings are old-space garbage that only
// a full GC frees, piece-sized ones die young.
const maskedBatches = (redactor: Redactor) => {
  const decoder = new Utf8StreamDecoder()
  const masker = redactor.streaming()
  let buffer = Buffer.allocUnsafe(0)
  const encode = (texts: ReadonlyArray<string>): Uint8Array => {
    let length = 0
    for (const text of texts) {
      // At most 3 bytes per UTF-16 unit.
      buffer = withRoom(buffer, length + text.length * 3, length)
      length += buffer.write(text, length, "utf8")
    }
    return buffer.subarray(0, length)
  }
  return {
    take: (batch: Uint8Array): Uint8Array => {
      const texts: Array<string> = []
      for (let at = 0; at < batch.length; at += MASK_PIECE_BYTES) texts.push(masker.push(decoder.decode(batch.subarray(at, at + MASK_PIECE_BYTES))))
      return encode(texts)
    },
    rest: (): Uint8Array => encode([masker.push(decoder.flush()), masker.flush()])
  }
}

const masking = (redactor: Redactor, count: (batch: Uint8Array) => void) => <E>(stream: Stream.Stream<Uint8Array, E>): Stream.Stream<Uint8Array, E> =>
  redactor.isEmpty ? stream : Stream.suspend(() => {
    const masked = maskedBatches(redactor)
    return stream.pipe(Stream.map((batch) => (count(batch), masked.take(batch))), Stream.concat(Stream.sync(masked.rest)), Stream.filter((bytes) => bytes.length > 0))
  })

const logBatches = (type: OutputType, index: number, logs: StageLogs) => (): BatchSink<void, PersistenceError> => {
  const lines = new OutputLineEncoder(type, index)
  const written = (encoded: EncodedEvents | undefined) => (encoded === undefined ? Effect.void : writeBoth(logs, encoded))
  return {
    step: (batch) => Effect.flatMap(Clock.currentTimeMillis, (millis) => written(lines.encode([batch], isoAt(millis)))),
    // A character left unfinished when the stream ended.
    done: Effect.flatMap(Clock.currentTimeMillis, (millis) => written(lines.flush(isoAt(millis))))
  }
}

export interface OutputCounter {
  bytes: number
}

/** The capture keeps the masked text, so summaries never see a secret either. */
export const pipeOutput = (options: {
  readonly type: OutputType
  readonly index: number
  readonly stream: Stream.Stream<Uint8Array, StageSpawnError>
  readonly logs: StageLogs
  readonly redactor: Redactor
  readonly counter: OutputCounter
}): Effect.Effect<CapturedStream, StageSpawnError | PersistenceError> => {
  let totalBytes = 0
  const count = (batch: Uint8Array) => {
    totalBytes += batch.length
    options.counter.bytes += batch.length
  }
  // Counted where a batch is first touched, before it is masked: the masking step, or the log sink's.
  const log = logBatches(options.type, options.index, options.logs)
  const counted = (): BatchSink<void, PersistenceError> => {
    const sink = log()
    return { step: (batch) => (count(batch), sink.step(batch)), done: sink.done }
  }
  return options.stream.pipe(
    masking(options.redactor, count),
    Stream.run(both(options.redactor.isEmpty ? counted : log, captureBatches())),
    Effect.map(([, snapshot]): CapturedStream => {
      const { head, tail } = capturedText(snapshot)
      const truncated = snapshot.droppedBytes > 0
      return { text: truncated ? head + ELLIPSIS + tail : head, head, tail, totalBytes, droppedBytes: snapshot.droppedBytes, truncated }
    })
  )
}

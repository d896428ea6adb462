import { Effect } from "effect"

/** Flush once this many bytes are pending: fewer, larger log writes. */
export const BATCH_BYTES = 1024 * 1024
/** The reader waits once this many bytes are pending, so a fast command waits for the disk. */
export const PENDING_LIMIT_BYTES = 2 * 1024 * 1024

export interface PendingBatch {
  readonly chunks: ReadonlyArray<Uint8Array>
  readonly bytes: number
  /** The stream is over: nothing follows this batch. */
  readonly ended: boolean
}

/**
 * The chunks of one stream between the fiber reading the pipe and the fiber writing the logs.
 * Plain arrays and latches rather than a Queue: the pipe delivers a chunk every ~16 KB, and per-chunk
 * work is what the output path spends its time on.
 */
export class PendingOutput {
  private chunks: Array<Uint8Array> = []
  private bytes = 0
  private ended = false
  /** Open while there is something to take. */
  private readonly arrivedLatch = Effect.unsafeMakeLatch(false)
  /** Open while a whole batch is pending, or the stream is over. */
  private readonly fullLatch = Effect.unsafeMakeLatch(false)
  /** Open while the reader may read on. */
  private readonly roomLatch = Effect.unsafeMakeLatch(true)

  constructor(
    readonly batchBytes: number = BATCH_BYTES,
    readonly limitBytes: number = PENDING_LIMIT_BYTES
  ) {}

  get pendingBytes(): number {
    return this.bytes
  }

  /** Adds chunks; the effect waits while the limit is reached (backpressure), else it is `Effect.void`. */
  push(chunks: Iterable<Uint8Array>): Effect.Effect<void> {
    for (const chunk of chunks) {
      if (chunk.length === 0) continue
      this.chunks.push(chunk)
      this.bytes += chunk.length
    }
    if (this.bytes === 0) return Effect.void
    this.arrivedLatch.unsafeOpen()
    if (this.bytes >= this.batchBytes) this.fullLatch.unsafeOpen()
    if (this.bytes < this.limitBytes) return Effect.void
    this.roomLatch.unsafeClose()
    return this.roomLatch.await
  }

  end(): void {
    this.ended = true
    this.arrivedLatch.unsafeOpen()
    this.fullLatch.unsafeOpen()
  }

  /** Waits until there is something to take, then at most `delay` more for a whole batch. */
  readonly ready = (delay: Effect.Effect<void>): Effect.Effect<void> =>
    Effect.zipRight(this.arrivedLatch.await, Effect.raceFirst(this.fullLatch.await, delay))

  /** Everything pending, in order; the reader may read on. */
  take(): PendingBatch {
    const batch: PendingBatch = { chunks: this.chunks, bytes: this.bytes, ended: this.ended }
    this.chunks = []
    this.bytes = 0
    if (!this.ended) {
      this.arrivedLatch.unsafeClose()
      this.fullLatch.unsafeClose()
    }
    this.roomLatch.unsafeOpen()
    return batch
  }
}

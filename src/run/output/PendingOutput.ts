import { type Duration, Effect } from "effect"

/** Flush once this many bytes are pending: fewer, larger log writes. */
export const BATCH_BYTES = 1024 * 1024
/** The reader waits once this many bytes are pending, so a fast command waits for the disk. */
export const PENDING_LIMIT_BYTES = 2 * 1024 * 1024
/** The largest piece copied in at once: a pipe read is at most this, a longer chunk is cut. */
export const OFFER_BYTES = 64 * 1024
const FIRST_CAPACITY = 16 * 1024

export interface PendingBatch {
  /** A view, valid only until the next take. */
  readonly bytes: Uint8Array
  readonly ended: boolean
}

// Two buffers swapped by `take`, so a read allocates nothing: per-read buffers were most of the
// output path's memory growth, since V8 frees them only at its next GC.
export class PendingOutput {
  private filling = new Uint8Array(0)
  private spare = new Uint8Array(0)
  private length = 0
  private ended = false
  /** Batches taken so far: tells `flushEvery` whether what is pending has waited a whole period. */
  private takes = 0
  private readonly arrivedLatch = Effect.unsafeMakeLatch(false)
  private readonly readyLatch = Effect.unsafeMakeLatch(false)
  private readonly roomLatch = Effect.unsafeMakeLatch(true)
  private roomListener: (() => void) | undefined

  constructor(
    readonly batchBytes: number = BATCH_BYTES,
    readonly limitBytes: number = PENDING_LIMIT_BYTES
  ) {}

  get pendingBytes(): number {
    return this.length
  }

  /** False at the limit: the reader stops until `onRoom`, so at most `limitBytes + OFFER_BYTES` are held. */
  offer(bytes: Uint8Array): boolean {
    if (bytes.length > 0) {
      this.reserve(this.length + bytes.length)
      this.filling.set(bytes, this.length)
    }
    return this.added(bytes.length)
  }

  /** Where the filling buffer continues, so `commit` counts a read landed there without a copy. */
  readTarget(): Uint8Array | undefined {
    if (this.length >= this.limitBytes) return undefined
    this.reserve(this.length + OFFER_BYTES)
    return this.filling.subarray(this.length, this.length + OFFER_BYTES)
  }

  /** A read into `readTarget`'s buffer (no `take` or growth since) is already in place; any other is copied. */
  commit(buffer: Uint8Array, length: number): boolean {
    const inPlace = buffer.buffer === this.filling.buffer && buffer.byteOffset === this.filling.byteOffset + this.length
    return inPlace ? this.added(length) : this.offer(buffer.subarray(0, length))
  }

  private added(bytes: number): boolean {
    if (bytes > 0) {
      this.length += bytes
      this.arrivedLatch.unsafeOpen()
      if (this.length >= this.batchBytes) this.readyLatch.unsafeOpen()
    }
    if (this.length < this.limitBytes) return true
    this.roomLatch.unsafeClose()
    return false
  }

  /** The Stream reader's way in: any size, waiting for room as often as it takes. */
  push(chunk: Uint8Array): Effect.Effect<void> {
    let offset = 0
    const rest = (): Effect.Effect<void> => {
      while (offset < chunk.length) {
        const piece = chunk.subarray(offset, offset + OFFER_BYTES)
        offset += piece.length
        if (!this.offer(piece)) return Effect.zipRight(this.roomLatch.await, Effect.suspend(rest))
      }
      return Effect.void
    }
    return Effect.suspend(rest)
  }

  /** Called (outside any fiber) each time a full buffer is taken: a paused pipe reads on. */
  onRoom(listener: () => void): void {
    this.roomListener = listener
  }

  end(): void {
    this.ended = true
    this.arrivedLatch.unsafeOpen()
    this.readyLatch.unsafeOpen()
  }

  /** A whole batch is pending, the stream is over, or `flushEvery` found the bytes due. */
  readonly ready: Effect.Effect<void> = this.readyLatch.await

  // A quiet command's output is written within two periods. One sleep a period, not a timer raced
  // against every batch: a fast command fills batches with no fiber forked and no timer set.
  flushEvery(period: Duration.DurationInput): Effect.Effect<never> {
    const tick = Effect.gen(this, function* () {
      yield* this.arrivedLatch.await
      const seen = this.takes
      yield* Effect.sleep(period)
      if (this.takes === seen && this.length > 0) this.readyLatch.unsafeOpen()
    })
    return Effect.forever(tick)
  }

  take(): PendingBatch {
    const batch: PendingBatch = { bytes: this.filling.subarray(0, this.length), ended: this.ended }
    const wasFull = this.length >= this.limitBytes
    ;[this.filling, this.spare] = [this.spare, this.filling]
    this.length = 0
    this.takes++
    if (!this.ended) {
      this.arrivedLatch.unsafeClose()
      this.readyLatch.unsafeClose()
    }
    this.roomLatch.unsafeOpen()
    if (wasFull) this.roomListener?.()
    return batch
  }

  /** Doubling, so a stream that prints little keeps little. */
  private reserve(bytes: number): void {
    if (this.filling.length >= bytes) return
    let capacity = Math.max(FIRST_CAPACITY, this.filling.length)
    while (capacity < bytes) capacity *= 2
    capacity = Math.max(bytes, Math.min(capacity, this.limitBytes + OFFER_BYTES))
    const grown = new Uint8Array(capacity)
    grown.set(this.filling.subarray(0, this.length))
    this.filling = grown
  }
}

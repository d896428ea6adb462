import { type Duration, Effect } from "effect"

/** Flush once this many bytes are pending: fewer, larger log writes. */
export const BATCH_BYTES = 1024 * 1024
/** The reader waits once this many bytes are pending, so a fast command waits for the disk. */
export const PENDING_LIMIT_BYTES = 2 * 1024 * 1024
/** The largest piece copied in at once: a pipe read is at most this, a longer chunk is cut. */
export const OFFER_BYTES = 64 * 1024
/** A quiet stream never grows its buffers past this. */
const FIRST_CAPACITY = 16 * 1024

export interface PendingBatch {
  /** Everything read since the last take, in order: a view valid until the next take. */
  readonly bytes: Uint8Array
  /** The stream is over: nothing follows this batch. */
  readonly ended: boolean
}

/**
 * The bytes of one stream between whatever reads the pipe and the fiber that writes the logs.
 *
 * Reads are copied into one of two buffers that `take` swaps: the writer encodes one batch while the
 * reader fills the other, and a read allocates nothing (per-read buffers were most of the output
 * path's memory growth, since V8 frees them only at its next GC). Bounded: once `limitBytes` are
 * pending the reader stops (`offer` returns false, or `push` waits) until the writer takes the batch.
 */
export class PendingOutput {
  private filling = new Uint8Array(0)
  private spare = new Uint8Array(0)
  private length = 0
  private ended = false
  /** Batches taken so far: tells `flushEvery` whether what is pending has waited a whole period. */
  private takes = 0
  /** Open while there is something to take. */
  private readonly arrivedLatch = Effect.unsafeMakeLatch(false)
  /** Open while a whole batch is pending, the stream is over, or `flushEvery` found the bytes due. */
  private readonly readyLatch = Effect.unsafeMakeLatch(false)
  /** Open while the reader may read on. */
  private readonly roomLatch = Effect.unsafeMakeLatch(true)
  private roomListener: (() => void) | undefined

  constructor(
    readonly batchBytes: number = BATCH_BYTES,
    readonly limitBytes: number = PENDING_LIMIT_BYTES
  ) {}

  get pendingBytes(): number {
    return this.length
  }

  /**
   * Copies `bytes` (at most OFFER_BYTES) in. False once the limit is reached: the reader must stop
   * until there is room again (`onRoom`), so at most `limitBytes + OFFER_BYTES` are ever held.
   */
  offer(bytes: Uint8Array): boolean {
    if (bytes.length > 0) {
      this.reserve(this.length + bytes.length)
      this.filling.set(bytes, this.length)
    }
    return this.added(bytes.length)
  }

  /**
   * Room for the next read of at most OFFER_BYTES, right where the filling buffer continues, so a
   * read that lands there is counted by `commit` without a copy; undefined once the limit is reached.
   */
  readTarget(): Uint8Array | undefined {
    if (this.length >= this.limitBytes) return undefined
    this.reserve(this.length + OFFER_BYTES)
    return this.filling.subarray(this.length, this.length + OFFER_BYTES)
  }

  /**
   * A read of `length` bytes into `buffer`: when `buffer` is where the filling buffer continues (from
   * `readTarget`, and no `take` or growth since), the bytes are already in place; else they are
   * copied. Answers like `offer`.
   */
  commit(buffer: Uint8Array, length: number): boolean {
    const inPlace = buffer.buffer === this.filling.buffer && buffer.byteOffset === this.filling.byteOffset + this.length
    return inPlace ? this.added(length) : this.offer(buffer.subarray(0, length))
  }

  /** Counts bytes now in place after the pending ones; false once the limit is reached. */
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

  /** Copies a chunk of any size in, waiting for room as often as it takes (the Stream reader's way in). */
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

  /** Waits until a whole batch is pending, the stream is over, or `flushEvery` found the bytes due. */
  readonly ready: Effect.Effect<void> = this.readyLatch.await

  /**
   * Makes pending bytes ready once they have waited a whole `period` untaken, so a quiet command's
   * output is written within two periods of arriving. One sleep a period rather than a timer raced
   * against every batch: a fast command fills batches with no fiber forked and no timer set.
   */
  flushEvery(period: Duration.DurationInput): Effect.Effect<never> {
    const tick = Effect.gen(this, function* () {
      yield* this.arrivedLatch.await
      const seen = this.takes
      yield* Effect.sleep(period)
      if (this.takes === seen && this.length > 0) this.readyLatch.unsafeOpen()
    })
    return Effect.forever(tick)
  }

  /** Everything pending; the reader reads on into the other buffer. */
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

  /** Grows the filling buffer by doubling, so a stream that prints little keeps little. */
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

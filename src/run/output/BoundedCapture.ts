import { Effect, type Sink } from "effect"
import { type BatchSink, toSink } from "./BatchSink.js"

/** What a capture keeps of one stream: at most `headLimit + tailLimit` bytes, with exact counts. */
export interface CaptureSnapshot {
  readonly head: Uint8Array
  readonly tail: Uint8Array
  readonly totalBytes: number
  readonly droppedBytes: number
}

export const CAPTURE_HEAD_BYTES = 4 * 1024
export const CAPTURE_TAIL_BYTES = 60 * 1024

/** Memory never grows past the limits: the tail is a ring buffer allocated once. */
export class BoundedCapture {
  private readonly headBuffer: Uint8Array
  private headLength = 0
  private readonly ring: Uint8Array
  private ringStart = 0
  private ringLength = 0
  private total = 0

  constructor(
    readonly headLimit: number = CAPTURE_HEAD_BYTES,
    readonly tailLimit: number = CAPTURE_TAIL_BYTES
  ) {
    this.headBuffer = new Uint8Array(headLimit)
    this.ring = new Uint8Array(tailLimit)
  }

  get totalBytes(): number {
    return this.total
  }

  get keptBytes(): number {
    return this.headLength + this.ringLength
  }

  push(chunk: Uint8Array): void {
    this.total += chunk.length
    let rest = chunk
    if (this.headLength < this.headLimit) {
      const take = Math.min(this.headLimit - this.headLength, rest.length)
      this.headBuffer.set(rest.subarray(0, take), this.headLength)
      this.headLength += take
      rest = rest.subarray(take)
    }
    if (rest.length > 0 && this.tailLimit > 0) this.pushTail(rest)
  }

  private pushTail(bytes: Uint8Array): void {
    const capacity = this.tailLimit
    if (bytes.length >= capacity) {
      this.ring.set(bytes.subarray(bytes.length - capacity))
      this.ringStart = 0
      this.ringLength = capacity
      return
    }
    let writeAt = (this.ringStart + this.ringLength) % capacity
    const firstPart = Math.min(bytes.length, capacity - writeAt)
    this.ring.set(bytes.subarray(0, firstPart), writeAt)
    if (firstPart < bytes.length) this.ring.set(bytes.subarray(firstPart), 0)
    writeAt = (writeAt + bytes.length) % capacity
    const length = this.ringLength + bytes.length
    if (length > capacity) {
      this.ringLength = capacity
      this.ringStart = writeAt
    } else {
      this.ringLength = length
    }
  }

  snapshot(): CaptureSnapshot {
    const tail = new Uint8Array(this.ringLength)
    const firstPart = Math.min(this.ringLength, this.tailLimit - this.ringStart)
    tail.set(this.ring.subarray(this.ringStart, this.ringStart + firstPart))
    if (firstPart < this.ringLength) tail.set(this.ring.subarray(0, this.ringLength - firstPart), firstPart)
    return {
      head: this.headBuffer.slice(0, this.headLength),
      tail,
      totalBytes: this.total,
      droppedBytes: this.total - this.keptBytes
    }
  }
}

export const captureBatches = (
  headLimit: number = CAPTURE_HEAD_BYTES,
  tailLimit: number = CAPTURE_TAIL_BYTES
) =>
(): BatchSink<CaptureSnapshot> => {
  const capture = new BoundedCapture(headLimit, tailLimit)
  return { step: (batch) => Effect.sync(() => capture.push(batch)), done: Effect.sync(() => capture.snapshot()) }
}

export const captureSink = (headLimit?: number, tailLimit?: number): Sink.Sink<CaptureSnapshot, Uint8Array> =>
  toSink(captureBatches(headLimit, tailLimit))

import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, FastCheck as fc, Stream } from "effect"
import { BoundedCapture, captureSink } from "../../../src/run/output/BoundedCapture.js"

/** Cuts `bytes` at the given (sorted, deduplicated) offsets. */
const chunked = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const offsets = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let from = 0
  for (const offset of [...offsets, bytes.length]) {
    chunks.push(bytes.subarray(from, offset))
    from = offset
  }
  return chunks
}

const expected = (bytes: Uint8Array, headLimit: number, tailLimit: number) => {
  const head = bytes.subarray(0, headLimit)
  const rest = bytes.subarray(head.length)
  const tail = rest.subarray(Math.max(0, rest.length - tailLimit))
  return { head, tail, totalBytes: bytes.length, droppedBytes: bytes.length - head.length - tail.length }
}

describe("BoundedCapture", () => {
  it.prop(
    "any chunking of any byte string keeps exactly the start, the end and the counts",
    [
      fc.uint8Array({ maxLength: 600 }),
      fc.array(fc.nat({ max: 700 }), { maxLength: 40 }),
      fc.nat({ max: 64 }),
      fc.nat({ max: 200 })
    ],
    ([bytes, cuts, headLimit, tailLimit]) => {
      const capture = new BoundedCapture(headLimit, tailLimit)
      for (const chunk of chunked(bytes, cuts)) capture.push(chunk)
      const snapshot = capture.snapshot()
      const want = expected(bytes, headLimit, tailLimit)
      expect(Buffer.from(snapshot.head).equals(Buffer.from(want.head))).toBe(true)
      expect(Buffer.from(snapshot.tail).equals(Buffer.from(want.tail))).toBe(true)
      expect(snapshot.totalBytes).toBe(want.totalBytes)
      expect(snapshot.droppedBytes).toBe(want.droppedBytes)
    },
    { fastCheck: { numRuns: 500 } }
  )

  it("holds at most 64 KiB after 100 MiB fed in random chunk sizes", () => {
    const capture = new BoundedCapture()
    const block = new Uint8Array(1024 * 1024)
    for (let i = 0; i < block.length; i++) block[i] = (i * 31) & 0xff
    const random = fc.sample(fc.integer({ min: 1, max: 256 * 1024 }), { numRuns: 2000, seed: 42 })
    let fed = 0
    let turn = 0
    const total = 100 * 1024 * 1024
    while (fed < total) {
      const size = Math.min(random[turn++ % random.length]!, total - fed)
      const offset = fed % block.length
      const take = Math.min(size, block.length - offset)
      capture.push(block.subarray(offset, offset + take))
      fed += take
      expect(capture.keptBytes).toBeLessThanOrEqual(64 * 1024)
    }
    const snapshot = capture.snapshot()
    expect(snapshot.totalBytes).toBe(total)
    expect(snapshot.head.length + snapshot.tail.length).toBe(64 * 1024)
    expect(snapshot.droppedBytes).toBe(total - 64 * 1024)
    const lastByte = (total - 1) % block.length
    expect(snapshot.tail.at(-1)).toBe(block[lastByte])
  })

  it.effect("as a Sink, ends with the snapshot of the whole stream", () =>
    Effect.gen(function* () {
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)
      const snapshot = yield* Stream.fromChunk(Chunk.unsafeFromArray(chunked(bytes, [7, 100, 101, 250]))).pipe(
        Stream.run(captureSink(10, 20))
      )
      expect(snapshot).toEqual({
        head: bytes.slice(0, 10),
        tail: bytes.slice(280),
        totalBytes: 300,
        droppedBytes: 270
      })
    }))
})

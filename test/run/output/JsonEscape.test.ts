import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { type JsonEscaper, makeJsonEscaper, maxEscapedLength, TextJsonEscaper, WasmJsonEscaper } from "../../../src/run/output/JsonEscape.js"
import { WasmJsonEscape } from "../../../src/run/output/WasmJsonEscape.js"

const wasm = WasmJsonEscape.shared()!

const inPieces = (make: () => JsonEscaper) => (bytes: Uint8Array, cuts: ReadonlyArray<number>): Buffer => {
  const escaper = make()
  const out = new Uint8Array(maxEscapedLength(bytes.length + 4))
  let n = 0
  let from = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const at = Math.min(Math.max(cut, from), bytes.length)
    n = escaper.escapeInto(bytes.subarray(from, at), out, n)
    from = at
  }
  n = escaper.escapeInto(bytes.subarray(from), out, n)
  n = escaper.flushInto(out, n)
  return Buffer.from(out.subarray(0, n))
}
const fast = inPieces(() => new WasmJsonEscaper(wasm))
const plain = inPieces(() => new TextJsonEscaper())

/** Bytes biased towards the interesting cases: control characters, quotes, UTF-8 leads and continuations. */
const interestingBytes = fc.uint8Array({ maxLength: 300 }).chain((random) =>
  fc.array(fc.oneof(
    fc.constantFrom(0x00, 0x0a, 0x1f, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
    fc.integer({ min: 0, max: 255 })
  ), { maxLength: 300 }).map((extra) => Uint8Array.from([...random.slice(0, 100), ...extra]))
)

describe("the two JSON escapers", () => {
  it("WebAssembly SIMD loads on this Node, so output takes the fast path", () => {
    expect(WasmJsonEscape.shared()).not.toBeNull()
    expect(makeJsonEscaper()).toBeInstanceOf(WasmJsonEscaper)
  })

  it.prop(
    "write the same bytes for any bytes in any pieces, and they parse as the stream's UTF-8 decoding",
    [interestingBytes, fc.array(fc.nat({ max: 420 }), { maxLength: 12 }), fc.array(fc.nat({ max: 420 }), { maxLength: 12 })],
    ([bytes, cuts, otherCuts]) => {
      const body = fast(bytes, cuts)
      expect(body.equals(plain(bytes, otherCuts))).toBe(true)
      expect(JSON.parse(`"${body.toString("utf8")}"`)).toBe(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it.prop(
    "text escapes like JSON.stringify",
    [fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("\n", "\"", "\\", "\u0000", "é", "😀", "\u007f", "\u2028", "\ufeff")), { maxLength: 30 }), fc.array(fc.nat({ max: 600 }), { maxLength: 6 })],
    ([parts, cuts]) => {
      const text = parts.join("")
      expect(fast(Buffer.from(text), cuts).toString("utf8")).toBe(JSON.stringify(text).slice(1, -1))
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it("a character left unfinished at the end is what TextDecoder makes of it", () => {
    for (const bytes of [[0x61, 0xf0, 0x9f, 0x98], [0x61, 0xe0, 0x41], [0xc3]]) {
      const input = Uint8Array.from(bytes)
      expect(fast(input, [1]).toString("utf8")).toBe(plain(input, []).toString("utf8"))
    }
    expect(fast(Uint8Array.of(0x61, 0xe0, 0x41), [2]).toString("utf8")).toBe("a\ufffdA")
  })

  it.prop(
    "agree across several 64 KiB windows and chunk cuts",
    [fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.nat({ max: 200_000 }), { maxLength: 4 })],
    ([seed, cuts]) => {
      // Interesting bytes (controls, quotes, leads, continuations) among plain text, 200 KB of them.
      const special = [0x00, 0x0a, 0x22, 0x5c, 0x80, 0xbf, 0xc3, 0xe0, 0xed, 0xf0, 0xf4, 0xff, 0xa9, 0x9f, 0x90]
      let state = seed
      const bytes = Uint8Array.from({ length: 200_000 }, () => {
        state = (state * 48271) % 0x7fffffff
        return state % 10 === 0 ? special[state % special.length]! : 0x20 + (state % 0x5f)
      })
      expect(fast(bytes, cuts).equals(plain(bytes, []))).toBe(true)
    },
    { fastCheck: { numRuns: 20 } }
  )

  it("hands a mostly non-ASCII text across windows without losing a byte", () => {
    const text = Array.from({ length: 40_000 }, (_, k) => (k % 3 === 0 ? "é" : k % 7 === 0 ? "😀\n" : "a")).join("")
    expect(fast(Buffer.from(text), [1, 65_535, 70_000]).toString("utf8")).toBe(JSON.stringify(text).slice(1, -1))
  })
})

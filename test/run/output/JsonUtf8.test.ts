import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { WasmJsonEscape } from "../../../src/run/output/WasmJsonEscape.js"
import { maxEscapedLength, Utf8JsonEscaper } from "../../../src/run/output/JsonUtf8.js"

/** Both ways to escape: WebAssembly SIMD (what runs) and the JavaScript (its fallback). */
const paths = [["WebAssembly", WasmJsonEscape.shared()], ["JavaScript", null]] as const

const inPieces = (ascii: WasmJsonEscape | null) => (bytes: Uint8Array, cuts: ReadonlyArray<number>): string => {
  const escaper = new Utf8JsonEscaper(ascii)
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
  return Buffer.from(out.subarray(0, n)).toString("utf8")
}

/** Bytes biased towards the interesting cases: control characters, quotes, UTF-8 leads and continuations. */
const interestingBytes = fc.uint8Array({ maxLength: 300 }).chain((random) =>
  fc.array(fc.oneof(
    fc.constantFrom(0x00, 0x0a, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
    fc.integer({ min: 0, max: 255 })
  ), { maxLength: 300 }).map((extra) => Uint8Array.from([...random.slice(0, 100), ...extra]))
)

describe.each(paths)("Utf8JsonEscaper (%s)", (_, ascii) => {
  const escapeInPieces = inPieces(ascii)

  it.prop(
    "any bytes in any pieces parse as the JSON string of their UTF-8 decoding",
    [interestingBytes, fc.array(fc.nat({ max: 420 }), { maxLength: 12 })],
    ([bytes, cuts]) => {
      const body = escapeInPieces(bytes, cuts)
      expect(JSON.parse(`"${body}"`)).toBe(new TextDecoder().decode(bytes))
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.prop(
    "mostly plain text at any alignment (the 4-bytes-at-a-time path) escapes like JSON.stringify",
    [
      fc.array(fc.oneof(fc.string({ minLength: 0, maxLength: 40 }), fc.constantFrom("\n", "\"", "\\", "\u0000", "é", "😀", "\u007f")), { maxLength: 30 }),
      fc.nat({ max: 7 }),
      fc.array(fc.nat({ max: 600 }), { maxLength: 6 })
    ],
    ([parts, shift, cuts]) => {
      const text = parts.join("")
      const padded = Buffer.concat([Buffer.alloc(shift), Buffer.from(text)])
      expect(escapeInPieces(padded.subarray(shift), cuts)).toBe(JSON.stringify(text).slice(1, -1))
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it("copies long plain runs whole, at any alignment and cut", () => {
    const text = "a".repeat(1000) + "\n" + "b".repeat(700) + "é" + "c".repeat(300)
    for (const shift of [0, 1, 2, 3]) {
      const padded = Buffer.concat([Buffer.alloc(shift), Buffer.from(text)])
      expect(escapeInPieces(padded.subarray(shift), [5, 600, 1702, 1703])).toBe(JSON.stringify(text).slice(1, -1))
    }
  })

  it("switches from word stores to one copy at any run length around the switch point", () => {
    const text = Array.from({ length: 16 }, (_, k) => "x".repeat(248 + k) + (k % 2 === 0 ? "\n" : "é")).join("")
    for (const shift of [0, 1, 2, 3]) {
      const padded = Buffer.concat([Buffer.alloc(shift), Buffer.from(text)])
      expect(escapeInPieces(padded.subarray(shift), [255, 256, 257, 3000])).toBe(JSON.stringify(text).slice(1, -1))
    }
  })

  it("passes valid text through, escaping only what JSON requires", () => {
    const text = "plain é€😀 \"quoted\" back\\slash\n\t\u0001 \u2028"
    expect(escapeInPieces(Buffer.from(text), [5, 6, 7, 13, 14])).toBe(JSON.stringify(text).slice(1, -1))
  })

  it("replaces a character left unfinished at the end with one U+FFFD", () => {
    expect(escapeInPieces(Uint8Array.of(0x61, 0xf0, 0x9f, 0x98), [2])).toBe("a\ufffd")
  })
})

describe("WasmJsonEscape", () => {
  it("loads on this Node, so output takes the WebAssembly path", () => {
    expect(WasmJsonEscape.shared()).not.toBeNull()
  })

  it("escapes inputs longer than its 64 KiB window, with specials on both sides of every boundary", () => {
    const unit = "0123456789abcdef\"\\\n\u0001"
    const text = unit.repeat(Math.ceil((3 * 65536 + 7) / unit.length))
    const escape = inPieces(WasmJsonEscape.shared())
    expect(escape(Buffer.from(text), [])).toBe(JSON.stringify(text).slice(1, -1))
    expect(escape(Buffer.from(text), [65535, 65536, 65537, 131072])).toBe(JSON.stringify(text).slice(1, -1))
  })

  it.prop(
    "any bytes across several windows and chunk cuts parse as their UTF-8 decoding",
    [fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.nat({ max: 200_000 }), { maxLength: 4 })],
    ([seed, cuts]) => {
      // Interesting bytes (controls, quotes, leads, continuations) among plain text, 200 KB of them.
      const special = [0x00, 0x0a, 0x22, 0x5c, 0x80, 0xbf, 0xc3, 0xe0, 0xed, 0xf0, 0xf4, 0xff, 0xa9, 0x9f, 0x90]
      let state = seed
      const bytes = Uint8Array.from({ length: 200_000 }, () => {
        state = (state * 48271) % 0x7fffffff
        return state % 10 === 0 ? special[state % special.length]! : 0x20 + (state % 0x5f)
      })
      const body = inPieces(WasmJsonEscape.shared())(bytes, cuts)
      expect(JSON.parse(`"${body}"`)).toBe(new TextDecoder().decode(bytes))
    },
    { fastCheck: { numRuns: 20 } }
  )

  it("hands a mostly non-ASCII text back and forth without losing a byte", () => {
    const text = Array.from({ length: 20_000 }, (_, k) => (k % 3 === 0 ? "é" : k % 7 === 0 ? "😀\n" : "a")).join("")
    expect(inPieces(WasmJsonEscape.shared())(Buffer.from(text), [1, 70_000])).toBe(JSON.stringify(text).slice(1, -1))
  })
})

import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { BoundedCapture } from "../../../src/run/output/BoundedCapture.js"
import { capturedText, Utf8StreamDecoder, withoutPartialEnd, withoutPartialStart } from "../../../src/run/output/Utf8.js"

const bytesOf = (text: string) => new Uint8Array(Buffer.from(text, "utf8"))

const decodeInPieces = (bytes: Uint8Array, cuts: ReadonlyArray<number>): string => {
  const decoder = new Utf8StreamDecoder()
  let text = ""
  let from = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const at = Math.min(cut, bytes.length)
    text += decoder.decode(bytes.subarray(from, at))
    from = Math.max(from, at)
  }
  return text + decoder.decode(bytes.subarray(from)) + decoder.flush()
}

describe("Utf8StreamDecoder", () => {
  it("joins a character split across chunks, for every split point", () => {
    const text = "aé€😀z"
    const bytes = bytesOf(text)
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (let second = cut; second <= bytes.length; second++) {
        expect(decodeInPieces(bytes, [cut, second])).toBe(text)
      }
    }
  })

  it.prop(
    "decoding in any pieces equals decoding at once, invalid bytes included",
    [fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat({ max: 220 }), { maxLength: 10 })],
    ([bytes, cuts]) => {
      expect(decodeInPieces(bytes, cuts)).toBe(Buffer.from(bytes).toString("utf8"))
    }
  )

  it("turns invalid bytes and a truncated last character into U+FFFD", () => {
    expect(decodeInPieces(Uint8Array.from([0x61, 0xff, 0x62, 0xe2, 0x82]), [2])).toBe("a\ufffdb\ufffd")
  })
})

describe("capturedText", () => {
  it("drops half a character at either cut instead of breaking it", () => {
    expect(Buffer.from(withoutPartialEnd(bytesOf("ab€").subarray(0, 4))).toString()).toBe("ab")
    expect(Buffer.from(withoutPartialEnd(bytesOf("ab€"))).toString()).toBe("ab€")
    expect(Buffer.from(withoutPartialStart(bytesOf("😀cd").subarray(2))).toString()).toBe("cd")
  })

  it.prop(
    "never yields U+FFFD for valid text, wherever the capture cuts it",
    [
      fc.string({ unit: "grapheme", maxLength: 120 }).filter((text) => !text.includes("\ufffd")),
      fc.nat({ max: 40 }),
      fc.nat({ max: 60 })
    ],
    ([text, headLimit, tailLimit]) => {
      const capture = new BoundedCapture(headLimit, tailLimit)
      capture.push(bytesOf(text))
      const { head, tail } = capturedText(capture.snapshot())
      expect(head + tail).not.toContain("\ufffd")
      expect(text.startsWith(head)).toBe(true)
      expect(text.endsWith(tail)).toBe(true)
    },
    { fastCheck: { numRuns: 2000 } }
  )
})

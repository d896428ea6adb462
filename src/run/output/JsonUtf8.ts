import { WasmJsonEscape } from "./WasmJsonEscape.js"

/**
 * Escapes a UTF-8 byte stream straight into the bytes of a JSON string body, without making a JS
 * string: the hot path for command output. The result parses to exactly what decoding the stream as
 * UTF-8 gives (invalid bytes become U+FFFD, one per maximal invalid subpart, as TextDecoder does);
 * a character split across chunks is held back until its last byte arrives.
 */

const UNICODE = 1
const ESCAPE = new Uint8Array(128)
for (let byte = 0; byte < 0x20; byte++) ESCAPE[byte] = UNICODE
for (const [byte, letter] of [[0x08, "b"], [0x09, "t"], [0x0a, "n"], [0x0c, "f"], [0x0d, "r"], [0x22, '"'], [0x5c, "\\"]] as const) {
  ESCAPE[byte] = letter.charCodeAt(0)
}
/** 1 for the bytes copied as they are: printable ASCII except `"` and `\`. */
const SAFE = new Uint8Array(256)
for (let byte = 0x20; byte < 0x80; byte++) SAFE[byte] = byte === 0x22 || byte === 0x5c ? 0 : 1
const HEX = Buffer.from("0123456789abcdef", "latin1")
const BACKSLASH = 0x5c
/** Runs of plain text at least this long are copied with one memcpy rather than word by word. */
const LONG_RUN = 256
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * True when none of the word's 4 bytes needs escaping or UTF-8 checks: no byte >= 0x80, < 0x20,
 * `"` or `\` (bit tricks from "Bit Twiddling Hacks": haszero / hasless).
 */
const plainWord = (w: number): boolean => {
  const quote = w ^ 0x22222222
  const backslash = w ^ 0x5c5c5c5c
  return ((w | ((w - 0x20202020) & ~w) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) &
    0x80808080) === 0
}

/**
 * For each lead byte: how many continuation bytes follow (0: not a lead), and the allowed range of the
 * first one (WHATWG). Tables rather than a function returning a tuple: no allocation per character.
 */
const CONTINUATIONS = new Uint8Array(256)
const FIRST_LOW = new Uint8Array(256).fill(0x80)
const FIRST_HIGH = new Uint8Array(256).fill(0xbf)
for (let lead = 0xc2; lead <= 0xf4; lead++) CONTINUATIONS[lead] = lead <= 0xdf ? 1 : lead <= 0xef ? 2 : 3
FIRST_LOW[0xe0] = 0xa0
FIRST_HIGH[0xed] = 0x9f
FIRST_LOW[0xf0] = 0x90
FIRST_HIGH[0xf4] = 0x8f

/** Worst case: every byte a control character, 6 bytes each. */
export const maxEscapedLength = (inputBytes: number): number => inputBytes * 6 + 8

export class Utf8JsonEscaper {
  private pending: Uint8Array = new Uint8Array(0)
  /** Where the last JavaScript ASCII run stopped. */
  private stoppedAt = 0

  /**
   * `wasm`: the WebAssembly escaper that does almost all the work; with null (no WebAssembly SIMD)
   * the JavaScript below does it all, about 4 times slower on ASCII.
   */
  constructor(private readonly wasm: WasmJsonEscape | null = WasmJsonEscape.shared()) {}

  /** Bytes held back: the start of a character whose end has not arrived yet. */
  get pendingBytes(): number {
    return this.pending.length
  }

  /** Writes the escaped chunk into `out` at `offset` (room: maxEscapedLength) and returns the new offset. */
  escapeInto(chunk: Uint8Array, out: Uint8Array, offset: number): number {
    let input = chunk
    if (this.pending.length > 0) {
      input = new Uint8Array(this.pending.length + chunk.length)
      input.set(this.pending)
      input.set(chunk, this.pending.length)
      this.pending = new Uint8Array(0)
    }
    const length = input.length
    const wasm = this.wasm
    wasm?.reset()
    let n = offset
    let i = 0
    while (i < length) {
      if (wasm !== null) {
        n = wasm.escapeRun(input, i, out, n)
        if (wasm.stoppedAt !== i) {
          i = wasm.stoppedAt
          continue
        }
        // Stopped at once: a character running past the end of its window, done here.
      }
      const byte = input[i]!
      if (byte < 0x80) {
        n = this.escapeAsciiRun(input, i, out, n)
        i = this.stoppedAt
        continue
      }
      const continuation = CONTINUATIONS[byte]!
      if (continuation === 0) {
        n = replacement(out, n)
        i++
        continue
      }
      let k = 1
      let valid = true
      for (; k <= continuation; k++) {
        if (i + k >= length) break
        const next = input[i + k]!
        const min = k === 1 ? FIRST_LOW[byte]! : 0x80
        const max = k === 1 ? FIRST_HIGH[byte]! : 0xbf
        if (next < min || next > max) {
          valid = false
          break
        }
      }
      if (!valid) {
        n = replacement(out, n)
        i += k
      } else if (k <= continuation) {
        this.pending = input.slice(i)
        break
      } else {
        for (let j = 0; j <= continuation; j++) out[n++] = input[i + j]!
        i += continuation + 1
      }
    }
    return n
  }

  /**
   * The JavaScript path for ASCII, up to the first byte >= 0x80 or the end (sets `stoppedAt`).
   * Plain text goes 4 bytes at a time, read at any offset: after an escape the next word is checked
   * at once. Short runs are stored word by word as they are scanned; a run still going after
   * LONG_RUN bytes is scanned on and copied with one memcpy.
   */
  private escapeAsciiRun(input: Uint8Array, from: number, out: Uint8Array, offset: number): number {
    const length = input.length
    const source = this.viewOf(input)
    const target = this.viewOf(out)
    let n = offset
    let i = from
    while (i < length) {
      const runStart = i
      while (i + 4 <= length && i - runStart < LONG_RUN) {
        const word = source.getUint32(i, LITTLE_ENDIAN)
        if (!plainWord(word)) break
        target.setUint32(n, word, LITTLE_ENDIAN)
        n += 4
        i += 4
      }
      if (i - runStart >= LONG_RUN) {
        const copyStart = i
        while (i + 4 <= length && plainWord(source.getUint32(i, LITTLE_ENDIAN))) i += 4
        out.set(input.subarray(copyStart, i), n)
        n += i - copyStart
      }
      if (i === length) break
      const byte = input[i]!
      if (byte >= 0x80) break
      if (SAFE[byte] === 1) {
        out[n++] = byte
      } else {
        const escape = ESCAPE[byte]!
        if (escape === UNICODE) {
          out[n++] = BACKSLASH
          out[n++] = 0x75
          out[n++] = 0x30
          out[n++] = 0x30
          out[n++] = HEX[byte >> 4]!
          out[n++] = HEX[byte & 0xf]!
        } else {
          out[n++] = BACKSLASH
          out[n++] = escape
        }
      }
      i++
    }
    this.stoppedAt = i
    return n
  }

  /** DataViews of the arrays last seen, kept: a run can be a few bytes long, a view per run is not. */
  private readonly views = new WeakMap<Uint8Array, DataView>()

  private viewOf(bytes: Uint8Array): DataView {
    let view = this.views.get(bytes)
    if (view === undefined) {
      view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      this.views.set(bytes, view)
    }
    return view
  }

  /** At the end of the stream, a character that never completed is one U+FFFD. */
  flushInto(out: Uint8Array, offset: number): number {
    if (this.pending.length === 0) return offset
    this.pending = new Uint8Array(0)
    return replacement(out, offset)
  }
}

const replacement = (out: Uint8Array, n: number): number => {
  out[n] = 0xef
  out[n + 1] = 0xbf
  out[n + 2] = 0xbd
  return n + 3
}

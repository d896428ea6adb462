import { WasmJsonEscape } from "./WasmJsonEscape.js"

// No JS string on the hot path, yet the output parses to exactly what TextDecoder makes of the stream
// (U+FFFD per maximal invalid subpart). A character split across chunks waits for its last byte.
export interface JsonEscaper {
  readonly pendingBytes: number
  /** `out` needs maxEscapedLength room from `offset`; returns the new offset. */
  readonly escapeInto: (chunk: Uint8Array, out: Uint8Array, offset: number) => number
  readonly flushInto: (out: Uint8Array, offset: number) => number
}

/** Worst case: every byte a control character, 6 bytes each. */
export const maxEscapedLength = (inputBytes: number): number => inputBytes * 6 + 8

const encoder = new TextEncoder()
const decoderOptions = { ignoreBOM: true } as const

const writeJsonBody = (text: string, out: Uint8Array, offset: number): number =>
  text.length === 0 ? offset : offset + encoder.encodeInto(JSON.stringify(text).slice(1, -1), out.subarray(offset)).written

/** The obviously correct one: the decoding every reader of the logs uses, then JSON.stringify. */
export class TextJsonEscaper implements JsonEscaper {
  private readonly decoder = new TextDecoder("utf-8", decoderOptions)
  /** TextDecoder holds at most a character's first three bytes. */
  readonly pendingBytes = 3

  escapeInto(chunk: Uint8Array, out: Uint8Array, offset: number): number {
    return writeJsonBody(this.decoder.decode(chunk, { stream: true }), out, offset)
  }

  flushInto(out: Uint8Array, offset: number): number {
    return writeJsonBody(this.decoder.decode(), out, offset)
  }
}

// json-escape.wat escapes and checks 16 bytes at a time, ~4x faster than the JavaScript it replaced;
// what is still waiting when the stream ends is decoded the obviously correct way.
export class WasmJsonEscaper implements JsonEscaper {
  private pending: Uint8Array = new Uint8Array(0)

  constructor(private readonly wasm: WasmJsonEscape) {}

  get pendingBytes(): number {
    return this.pending.length
  }

  escapeInto(chunk: Uint8Array, out: Uint8Array, offset: number): number {
    let input = chunk
    if (this.pending.length > 0) {
      input = new Uint8Array(this.pending.length + chunk.length)
      input.set(this.pending)
      input.set(chunk, this.pending.length)
      this.pending = new Uint8Array(0)
    }
    let n = offset
    for (let i = 0; i < input.length;) {
      n = this.wasm.escapeRun(input, i, out, n)
      // Each run starts a window at `i`, so only the end of the input can cut a character there.
      if (this.wasm.stoppedAt === i) {
        this.pending = input.slice(i)
        break
      }
      i = this.wasm.stoppedAt
    }
    return n
  }

  flushInto(out: Uint8Array, offset: number): number {
    const rest = this.pending
    this.pending = new Uint8Array(0)
    return rest.length === 0 ? offset : writeJsonBody(new TextDecoder("utf-8", decoderOptions).decode(rest), out, offset)
  }
}

export const makeJsonEscaper = (): JsonEscaper => {
  const wasm = WasmJsonEscape.shared()
  return wasm === null ? new TextJsonEscaper() : new WasmJsonEscaper(wasm)
}

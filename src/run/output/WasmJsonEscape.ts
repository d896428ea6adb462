import { JSON_ESCAPE_WASM } from "./WasmJsonEscapeBytes.js"

/** Input bytes the module takes at once; its output area has room for 6 bytes each. */
const WINDOW_BYTES = 64 * 1024
const OUTPUT_AT = 64 * 1024

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer }
  readonly consumed: { readonly value: number }
  readonly escape: (from: number, to: number) => number
}

/** The little of the WebAssembly API used here (our lib settings leave it untyped). */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object) => { readonly exports: unknown }
}

/** One instance serves the process: escaping is synchronous, so two calls never share its memory. */
export class WasmJsonEscape {
  private static loaded: WasmJsonEscape | null | undefined

  static shared(): WasmJsonEscape | null {
    if (WasmJsonEscape.loaded === undefined) WasmJsonEscape.loaded = WasmJsonEscape.load()
    return WasmJsonEscape.loaded
  }

  private static load(): WasmJsonEscape | null {
    const wasm = (globalThis as { readonly WebAssembly?: WebAssemblyApi }).WebAssembly
    if (wasm === undefined) return null
    try {
      const instance = new wasm.Instance(new wasm.Module(Buffer.from(JSON_ESCAPE_WASM, "base64")))
      return new WasmJsonEscape(instance.exports as Exports)
    } catch {
      // No WebAssembly SIMD here: TextJsonEscaper does the same, only slower.
      return null
    }
  }

  private readonly memory: Uint8Array
  /** Where the last `escapeRun` stopped in its input: the end of the window, or a character crossing it. */
  stoppedAt = 0

  private constructor(private readonly exports: Exports) {
    this.memory = new Uint8Array(exports.memory.buffer)
  }

  /** Up to the end of the 64 KiB window or a character that runs past it; returns the new offset in `out`. */
  escapeRun(input: Uint8Array, from: number, out: Uint8Array, n: number): number {
    const to = Math.min(input.length, from + WINDOW_BYTES)
    this.memory.set(input.subarray(from, to), 0)
    const written = this.exports.escape(0, to - from)
    this.stoppedAt = from + this.exports.consumed.value
    out.set(this.memory.subarray(OUTPUT_AT, OUTPUT_AT + written), n)
    return n + written
  }
}

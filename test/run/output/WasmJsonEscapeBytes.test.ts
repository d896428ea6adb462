import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { compileJsonEscape, wasmModuleSource } from "../../../scripts/build-wasm.js"

describe("WasmJsonEscapeBytes.ts", () => {
  it("holds exactly what json-escape.wat compiles to (run scripts/build-wasm.ts after editing it)", async () => {
    const committed = readFileSync(new URL("../../../src/run/output/WasmJsonEscapeBytes.ts", import.meta.url), "utf8")
    expect(committed).toBe(wasmModuleSource(await compileJsonEscape()))
  })
})

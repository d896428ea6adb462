import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { HELP_REQUESTS, printedBy } from "../../scripts/build/help-texts.js"
import { stripTerminalControls } from "../../src/domain/TerminalText.js"

const repo = path.resolve(import.meta.dirname, "../..")
const bin = path.join(repo, "dist/bin.cjs")
const texts = JSON.parse(fs.readFileSync(path.join(repo, "dist/help.json"), "utf8")) as Record<string, { ansi: string; plain: string }>
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "", ...env } })

describe("help rendered at build time", () => {
  it("covers every request the loader answers", () => {
    expect(Object.keys(texts).sort()).toEqual(Object.keys(HELP_REQUESTS).sort())
  })

  for (const [key, argv] of Object.entries(HELP_REQUESTS)) {
    it.effect(`'${argv.join(" ")}' is byte for byte what @effect/cli prints, coloured and plain`, () =>
      Effect.gen(function*() {
        const printed = yield* printedBy(argv)
        expect(texts[key]?.ansi).toBe(printed)
        expect(texts[key]?.plain).toBe(stripTerminalControls(printed))
        const piped = run(argv)
        expect([piped.status, piped.stdout, piped.stderr]).toEqual([0, stripTerminalControls(printed), ""])
      }))
  }

  it("a request the loader does not answer itself prints the same help through the program", () => {
    const viaProgram = run(["start", "--task", "t1", "--help"])
    expect(viaProgram.status).toBe(0)
    expect(viaProgram.stdout).toBe(texts["start"]?.plain)
  })
})

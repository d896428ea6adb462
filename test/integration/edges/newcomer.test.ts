import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import {
  bin,
  cmd,
  envFor,
  expectBadInput,
  installHooks,
  launch,
  manifestOf,
  onePipeline,
  project,
  run,
  startAnswer,
  within
} from "./binary.js"

installHooks()

const ESC = "\u001b"
const HELPS = [["--help"], ["start", "--help"], ["status", "--help"]].map((args) => [args.join(" "), args] as const)

const hasScript = (() => {
  const probe = spawnSync("script", ["-qec", "true", "/dev/null"], { stdio: "ignore", timeout: 10_000 })
  return probe.error === undefined && probe.status === 0
})()

/** The binary under a pseudo-terminal, as `script` gives it one. */
const underPty = (root: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync("script", ["-qec", [process.execPath, bin, ...args].map((a) => `'${a}'`).join(" "), "/dev/null"], {
    cwd: root,
    env: envFor(root, env),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000,
    killSignal: "SIGKILL"
  })

describe("what a new user meets", () => {
  it.each(HELPS)("%s piped: no escape sequences, with or without NO_COLOR", (_, args) => {
    const root = project()
    for (const env of [{}, { NO_COLOR: "1" }]) {
      const result = run(root, args, { env })
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout.length).toBeGreaterThan(0)
      expect(result.stdout, JSON.stringify(env)).not.toContain(ESC)
      expect(result.stderr, JSON.stringify(env)).not.toContain(ESC)
    }
  })

  it.skipIf(!hasScript)("--help under a pseudo-terminal is coloured", () => {
    const result = underPty(project(), ["--help"])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain(ESC)
  })

  it.skipIf(!hasScript)("--help under a pseudo-terminal with NO_COLOR=1 is not", () => {
    const result = underPty(project(), ["--help"], { NO_COLOR: "1" })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain("USAGE")
    expect(result.stdout).not.toContain(ESC)
  })

  it("a pipeline without a spec-guard stage: the summary does not send the user to run-mcp-diagnostics", () => {
    const root = onePipeline([cmd("a", "true")])
    const result = run(root, ["start", "p", "--task", "t1", "--format", "json"])
    expect(result.code, result.stderr).toBe(0)
    const summary = manifestOf(root, "t1", startAnswer(result.stdout).run_id).summary ?? ""
    expect(summary).not.toContain("run-mcp-diagnostics")
  })

  it("log noise: no fiber= on stderr; 8 concurrent runs of one task each print at most one warning line", async () => {
    const root = project({ pipelines: [{ id: "p", title: "P", stages: [cmd("a", "true")] }, { id: "bad", title: "Bad", stages: [cmd("b", "echo no >&2; exit 1")] }] })
    const failing = run(root, ["start", "bad", "--task", "same"])
    expect(failing.code, failing.stderr).toBe(1)
    const runs = Array.from({ length: 8 }, () => launch(root, ["start", "p", "--task", "same"]))
    const results = await within(Promise.all(runs.map((r) => r.done)), 45_000, "8 concurrent runs")
    for (const result of [failing, ...results]) {
      const lines = result.stderr.split("\n")
      expect(lines.filter((line) => line.includes("fiber=")), result.stderr).toEqual([])
    }
    for (const result of results) {
      expect(result.code, result.stderr).toBe(0)
      const warnings = result.stderr.split("\n").filter((line) => /warn/i.test(line))
      expect(warnings.length, result.stderr).toBeLessThanOrEqual(1)
    }
  }, 60_000)

  it.each([["stdin /dev/null", undefined], ["stdin an empty pipe", ""]] as const)(
    "--wizard with %s is refused with one line and no cursor games",
    (_, input) => {
      const root = project()
      const result = run(root, ["--wizard"], { input, timeoutMs: 15_000 })
      expect(result.stdout).not.toContain(`${ESC}[?25l`)
      expect(result.signal, "still running after 15 s").toBeNull()
      expectBadInput(result, { root })
    }
  )
})

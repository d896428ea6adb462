import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  cmd,
  expectBadInput,
  installHooks,
  manifestOf,
  manifestPath,
  onePipeline,
  project,
  readJson,
  run,
  startAnswer
} from "./binary.js"

installHooks()

const simple = () => onePipeline([cmd("a", "true")])

describe("one place that validates", () => {
  it("an invalid redact regex is refused naming redact[0], by plan and by start, before anything is written", () => {
    const root = onePipeline([cmd("a", "echo hi")], { redact: ["["] })
    for (const verb of ["plan", "start"]) {
      expectBadInput(run(root, [verb, "p", "--task", "t1"]), { root, mentions: ["redact[0]"] })
    }
  })

  it("a dangling codex.orchestrator.json symlink is refused by name; the built-in diagnostics do not run", () => {
    const root = project()
    fs.symlinkSync("missing.json", path.join(root, "codex.orchestrator.json"))
    for (const verb of ["plan", "start"]) {
      expectBadInput(run(root, [verb, "--task", "t1"]), { root, mentions: ["codex.orchestrator.json"] })
    }
  })

  it.each([
    ["demo.lock", ".lock"],
    ["Demo.LOCK", ".lock"],
    ["local-mcp", "local-mcp"]
  ])("task id %s collides with the layout and is refused (message mentions %s)", (taskId, mention) => {
    const root = simple()
    expectBadInput(run(root, ["start", "p", "--task", taskId]), { root, mentions: [mention] })
  })

  it.each(["../../etc/passwd", "nope"])("--parent-run %s is refused as a malformed run id", (parent) => {
    const root = simple()
    expectBadInput(run(root, ["start", "p", "--task", "t1", "--parent-run", parent]), { root, mentions: ["run id"] })
  })

  it("the error file of a stage with a 20 KB command stays under 10,000 bytes with the command elided in the middle", () => {
    const command = `: ${"A".repeat(10_000)}${"B".repeat(10_000)}; echo boom >&2; exit 1`
    const root = onePipeline([cmd("huge", command)])
    const started = run(root, ["start", "p", "--task", "t1", "--format", "json"])
    expect(started.code, started.stderr).toBe(1)
    const errorFile = manifestOf(root, "t1", startAnswer(started.stdout).run_id).commands[0]?.error_file
    if (errorFile === undefined || errorFile === null) throw new Error("no error file")
    const file = path.join(root, errorFile)
    expect(fs.statSync(file).size).toBeLessThan(10_000)
    const recorded = readJson<{ command: string }>(file).command
    expect(recorded.startsWith(": AAAA")).toBe(true)
    expect(recorded.endsWith("exit 1")).toBe(true)
    expect(recorded).toContain("…")
  })

  it("a manifest that does not decode: status is one line naming the field and that it is missing", () => {
    const root = simple()
    const started = run(root, ["start", "p", "--task", "t1", "--format", "json"])
    expect(started.code, started.stderr).toBe(0)
    const runId = startAnswer(started.stdout).run_id
    const file = manifestPath(root, "t1", runId)
    const manifest = readJson<{ commands: Array<Record<string, unknown>> }>(file)
    delete manifest.commands[0]?.["title"]
    fs.writeFileSync(file, JSON.stringify(manifest, null, 2))
    const line = expectBadInput(run(root, ["status", "--run", runId]), { mentions: ["commands[0].title"] })
    expect(line).toMatch(/missing/i)
  })

  describe("usage errors are one prefixed line", () => {
    it("status without --run", () => {
      const root = project()
      expectBadInput(run(root, ["status"]), { root, mentions: ["--run"] })
    })

    it("start --bogus is an unknown option, not an unknown pipeline", () => {
      const root = simple()
      expectBadInput(run(root, ["start", "--bogus"]), { root, mentions: ["--bogus"], excludes: ["unknown pipeline"] })
    })

    it("start --formt json names the misspelt option", () => {
      const root = simple()
      expectBadInput(run(root, ["start", "--formt", "json"]), { root, mentions: ["--formt"] })
    })

    it("start p --bogus", () => {
      const root = simple()
      expectBadInput(run(root, ["start", "p", "--bogus"]), { root, mentions: ["--bogus"] })
    })
  })

  it("a runs dir that cannot be created is refused at once, naming it", () => {
    const root = simple()
    const result = run(root, ["start", "p", "--task", "t1"], { env: { CODEX_ORCHESTRATOR_RUNS_DIR: "/proc/nope" }, timeoutMs: 15_000 })
    expect(result.signal, "still running after 15 s").toBeNull()
    expectBadInput(result, { root, mentions: ["/proc/nope"] })
  })
})

import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  cmd,
  expectBadInput,
  installHooks,
  launch,
  manifestOf,
  onePipeline,
  pipeline,
  project,
  run,
  startAnswer,
  walkFiles,
  within
} from "./binary.js"

installHooks()

const stageLog = (root: string, task: string, runId: string, index = 0): string => {
  const logPath = manifestOf(root, task, runId).commands[index]?.log_path
  if (logPath === undefined || logPath === null) throw new Error("no stage log")
  return fs.readFileSync(path.join(root, logPath), "utf8")
}

describe("one masking boundary", () => {
  it("a secret in the orchestrator's own environment is masked everywhere, also typed literally in a command", () => {
    const secret = "s3cr3t-Value-9876"
    const root = project({
      pipelines: [
        pipeline("leak", [cmd("show", `echo "token $DEPLOY_TOKEN"; echo "err $DEPLOY_TOKEN" >&2; exit 1`)]),
        pipeline("literal", [cmd("echo", `echo ${secret}`)])
      ]
    })
    const env = { DEPLOY_TOKEN: secret }
    const failed = run(root, ["start", "leak", "--task", "t1", "--format", "json"], { env })
    expect(failed.code, failed.stderr).toBe(1)
    const literal = run(root, ["start", "literal", "--task", "t1", "--format", "json"], { env })
    expect(literal.code, literal.stderr).toBe(0)

    for (const result of [failed, literal]) {
      expect(result.stdout).not.toContain(secret)
      expect(result.stderr).not.toContain(secret)
    }
    const files = [...walkFiles(path.join(root, ".runs")), ...walkFiles(path.join(root, "out"))]
    expect(files.length).toBeGreaterThan(0)
    const leaking = files.filter((file) => fs.readFileSync(file, "latin1").includes(secret)).map((file) => path.relative(root, file))
    expect(leaking).toEqual([])
    expect(stageLog(root, "t1", startAnswer(failed.stdout).run_id)).toContain("***")
  })

  it("plan hides secret env values; the manifest's command is masked for env secrets and redact patterns", () => {
    const root = project({
      redact: ["hunter[0-9]+"],
      pipelines: [pipeline("p", [
        cmd("env-secret", "echo abcdef123456", { env: { API_TOKEN: "abcdef123456" } }),
        cmd("pattern", "echo hunter2222")
      ])]
    })
    const plan = run(root, ["plan", "p", "--task", "t1", "--format", "json"])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).not.toContain("abcdef123456")
    const doc = JSON.parse(plan.stdout) as { stages: ReadonlyArray<{ env?: Record<string, string> }> }
    expect(doc.stages[0]?.env).toEqual({ API_TOKEN: "***" })

    const started = run(root, ["start", "p", "--task", "t1", "--format", "json"])
    expect(started.code, started.stderr).toBe(0)
    const manifest = manifestOf(root, "t1", startAnswer(started.stdout).run_id)
    expect(manifest.commands.map((c) => c.command)).toEqual(["echo ***", "echo ***"])
  })

  it("a 10 MiB redact match: the run still finishes, and no long run of the secret reaches the log", async () => {
    const root = onePipeline(
      [cmd("big", `node -e 'process.stdout.write("secret" + "a".repeat(10*1024*1024) + "\\n")'`)],
      { redact: ["secret[a-z]*"] }
    )
    const started = launch(root, ["start", "p", "--task", "t1", "--format", "json"])
    const result = await within(started.done, 60_000, "a run printing a 10 MiB match")
    expect(result.code, result.stderr.slice(0, 2000)).toBe(0)
    const runId = startAnswer(result.stdout).run_id
    expect(manifestOf(root, "t1", runId).status).toBe("succeeded")
    expect(/a{100}/.test(stageLog(root, "t1", runId))).toBe(false)
  }, 90_000)

  it("a redact pattern that matches the empty string is refused naming redact[0]", () => {
    const root = onePipeline([cmd("a", "echo hi")], { redact: ["(secret)?"] })
    for (const verb of ["plan", "start"]) {
      expectBadInput(run(root, [verb, "p", "--task", "t1"]), { root, mentions: ["redact[0]"] })
    }
  })

  it("status strips terminal control sequences from what stages printed", () => {
    const root = onePipeline([cmd("title", "printf '\\033]0;pwned\\007\\033[2Jhello\\n'")])
    const started = run(root, ["start", "p", "--task", "t1", "--format", "json"])
    expect(started.code, started.stderr).toBe(0)
    const runId = startAnswer(started.stdout).run_id
    const status = run(root, ["status", "--run", runId])
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toContain("hello")
    expect(status.stdout).not.toContain("\u001b")
    expect(status.stdout).not.toContain("\u0007")
  })
})

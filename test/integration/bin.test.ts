import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { makeProject } from "../support/CliHarness.js"

const repo = path.resolve(import.meta.dirname, "../..")
const bin = path.join(repo, "dist/bin.cjs")

const run = (root: string, args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8", env: { ...process.env, CODEX_ORCHESTRATOR_ROOT: root } })

beforeAll(() => {
  // The suite runs the binary a user runs; build it when the install step did not.
  if (!fs.existsSync(bin)) spawnSync(process.execPath, [path.join(repo, "scripts/build.mjs")], { cwd: repo, stdio: "inherit" })
})

describe("the built binary, as a user runs it", () => {
  it("answers --help at every level", () => {
    const top = run(makeProject(), ["--help"])
    expect(top.status).toBe(0)
    for (const sub of ["start", "plan", "status", "resume"]) expect(top.stdout).toContain(sub)
    const start = run(makeProject(), ["start", "--help"])
    expect(start.status).toBe(0)
    expect(start.stdout).toContain("--format")
  })

  it("runs a pipeline: exactly one JSON document on stdout, progress on stderr", () => {
    const root = makeProject({ pipelines: [{ id: "p", title: "P", stages: [{ kind: "command", id: "a", title: "A", command: "echo out; echo err >&2" }] }] })
    const result = run(root, ["start", "p", "--task", "t1", "--format", "json"])
    expect(result.status).toBe(0)
    const doc = JSON.parse(result.stdout) as { status: string; manifest: string }
    expect(doc.status).toBe("succeeded")
    expect(fs.existsSync(path.join(root, doc.manifest))).toBe(true)
    expect(result.stderr).toContain("[1/1] A (a)")
  })

  it("refuses bad input with one line, exit code 2 and no stack trace", () => {
    const root = makeProject()
    const result = run(root, ["start", "--task", "../../etc"])
    expect(result.status).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).not.toMatch(/\s+at /)
    expect(fs.existsSync(path.join(root, ".runs"))).toBe(false)
  })

  it("SIGINT mid-stage: exit 130, run cancelled, nothing left running", async () => {
    const root = makeProject({ pipelines: [{ id: "p", title: "P", stages: [{ kind: "command", id: "nap", title: "Nap", command: "echo $$ > child.pid; sleep 60" }] }] })
    const child = spawn(process.execPath, [bin, "start", "p", "--task", "t1", "--format", "json"], {
      cwd: root,
      env: { ...process.env, CODEX_ORCHESTRATOR_ROOT: root },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    const pidFile = path.join(root, "child.pid")
    for (let i = 0; i < 200 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50))
    const stagePid = Number(fs.readFileSync(pidFile, "utf8").trim())
    child.kill("SIGINT")
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
    expect(code).toBe(130)
    expect((JSON.parse(stdout) as { status: string }).status).toBe("cancelled")
    expect(() => process.kill(stagePid, 0)).toThrow()
  })
})

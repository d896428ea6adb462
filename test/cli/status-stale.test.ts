import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeProject, readJson, runCli } from "../support/CliHarness.js"

const project = () =>
  makeProject({
    pipelines: [{
      id: "two",
      title: "Two",
      stages: [
        { kind: "command", id: "first", title: "First", command: "echo first >> ran.txt" },
        { kind: "command", id: "second", title: "Second", command: "sleep 1; echo second >> ran.txt" }
      ]
    }]
  })

/** Makes a finished run look like one whose process died mid-stage a minute ago. */
const killMidRun = (root: string, runId: string) => {
  const dir = path.join(root, ".runs/t1/cli", runId)
  const manifest = readJson(path.join(dir, "manifest.json")) as Record<string, unknown> & { commands: Array<Record<string, unknown>> }
  const minuteAgo = new Date(Date.now() - 60_000).toISOString()
  const second = manifest.commands[1]
  if (second !== undefined) Object.assign(second, { status: "running", completed_at: null, exit_code: null, summary: null })
  Object.assign(manifest, {
    status: "in_progress",
    completed_at: null,
    summary: null,
    metrics_recorded: false,
    updated_at: minuteAgo,
    heartbeat_at: minuteAgo
  })
  fs.writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest, null, 2))
  fs.writeFileSync(path.join(dir, ".heartbeat"), `${minuteAgo}\n`)
}

describe("status and resume of a run whose process died", () => {
  it.live("reports it stale once its heartbeat is old, and resume completes it", () =>
    Effect.gen(function*() {
      const root = project()
      const first = yield* runCli(root, ["start", "two", "--task", "t1", "--format", "json"])
      const runId = (JSON.parse(first.stdout) as { run_id: string }).run_id
      killMidRun(root, runId)

      const status = yield* runCli(root, ["status", "--run", runId, "--format", "json"])
      const doc = JSON.parse(status.stdout) as { status: string; heartbeat_stale: boolean; heartbeat_age_seconds: number }
      expect([doc.status, doc.heartbeat_stale]).toEqual(["in_progress", true])
      expect(doc.heartbeat_age_seconds).toBeGreaterThanOrEqual(59)
      const text = yield* runCli(root, ["status", "--run", runId])
      expect(text.stdout.split("\n")[0]).toBe(`Run ${runId}: in_progress [stale]`)

      const resumed = yield* runCli(root, ["resume", "--run", runId, "--format", "json"])
      expect(resumed.code).toBe(0)
      const manifest = readJson(path.join(root, ".runs/t1/cli", runId, "manifest.json")) as { status: string }
      expect(manifest.status).toBe("succeeded")
      expect(fs.readFileSync(path.join(root, "ran.txt"), "utf8")).toBe("first\nsecond\nsecond\n")
    }))

  it.live("a live run with a fresh heartbeat is not resumed, and nothing is written", () =>
    Effect.gen(function*() {
      const root = project()
      const first = yield* runCli(root, ["start", "two", "--task", "t1", "--format", "json"])
      const runId = (JSON.parse(first.stdout) as { run_id: string }).run_id
      const file = path.join(root, ".runs/t1/cli", runId, "manifest.json")
      const manifest = readJson(file) as Record<string, unknown>
      const now = new Date().toISOString()
      fs.writeFileSync(file, JSON.stringify({ ...manifest, status: "in_progress", updated_at: now, heartbeat_at: now }, null, 2))
      const before = fs.readFileSync(file, "utf8")
      const refused = yield* runCli(root, ["resume", "--run", runId])
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(/still in progress/)
      expect(fs.readFileSync(file, "utf8")).toBe(before)
    }))

  it.live("status --watch re-reads until the run is terminal and prints one JSON document", () =>
    Effect.gen(function*() {
      const root = project()
      const first = yield* runCli(root, ["start", "two", "--task", "t1", "--format", "json"])
      const runId = (JSON.parse(first.stdout) as { run_id: string }).run_id
      const file = path.join(root, ".runs/t1/cli", runId, "manifest.json")
      const finished = fs.readFileSync(file, "utf8")
      const now = new Date().toISOString()
      const manifest = readJson(file) as Record<string, unknown>
      fs.writeFileSync(file, JSON.stringify({ ...manifest, status: "in_progress", completed_at: null, updated_at: now, heartbeat_at: now }, null, 2))
      const stderr: Array<string> = []
      const watching = yield* Effect.fork(runCli(root, ["status", "--run", runId, "--watch", "--interval", "1", "--format", "json"], { stderr }))
      // The run finishes only once the watcher has said it saw it in progress: nothing races a real stage.
      while (!stderr.some((line) => line.includes("in_progress"))) yield* Effect.sleep("10 millis")
      fs.writeFileSync(file, finished)
      const watched = yield* Fiber.join(watching)
      expect(watched.code).toBe(0)
      expect((JSON.parse(watched.stdout) as { status: string }).status).toBe("succeeded")
      expect(watched.stderr).toContain("in_progress")
    }))
})

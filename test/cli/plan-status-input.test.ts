import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { copyLegacyFixture, makeProject, readJson, readLines, runCli } from "../support/CliHarness.js"

const config = {
  pipelines: [
    {
      id: "demo",
      title: "Demo",
      description: "two stages",
      stages: [
        { kind: "command", id: "build", title: "Build it", command: "npm run build", env: { A: "1" }, allowFailure: true },
        { kind: "subpipeline", id: "more", title: "More", pipeline: "diagnostics", optional: true }
      ]
    }
  ]
}

describe("plan", () => {
  it.live("prints the JSON preview of CONTRACT §2", () =>
    Effect.gen(function*() {
      const root = makeProject(config)
      const result = yield* runCli(root, ["plan", "demo", "--format", "json"])
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual({
        pipeline: { id: "demo", title: "Demo", description: "two stages", source: "user" },
        stages: [
          { index: 1, id: "build", title: "Build it", kind: "command", command: "npm run build", cwd: null, env: { A: "1" }, allowFailure: true, summaryHint: null },
          { index: 2, id: "more", title: "More", kind: "subpipeline", pipeline: "diagnostics", optional: true }
        ],
        plan: {
          items: [
            { id: "demo:build", description: "Build it", requires_cloud: false },
            { id: "demo:more", description: "More", requires_cloud: false }
          ],
          notes: expect.any(String)
        }
      })
      expect(fs.existsSync(path.join(root, ".runs"))).toBe(false)
    }))

  it.live("prints the text preview", () =>
    Effect.gen(function*() {
      const root = makeProject(config)
      const result = yield* runCli(root, ["plan", "demo"])
      expect(result.stdout.split("\n")).toEqual([
        "Pipeline: demo — Demo [user]",
        "  1. [command] Build it (build)",
        "     command: npm run build",
        "  2. [subpipeline] More (more)",
        "     pipeline: diagnostics"
      ])
      const builtIn = yield* runCli(makeProject(), ["plan"])
      expect(builtIn.stdout.split("\n")[0]).toBe("Pipeline: diagnostics — Diagnostics [default]")
    }))
})

describe("runs written by the earlier tool", () => {
  it.live("status reads every legacy run", () =>
    Effect.gen(function*() {
      const root = copyLegacyFixture()
      const runs = fs.readdirSync(path.join(root, ".runs/legacy-demo/cli"))
      expect(runs).toHaveLength(4)
      for (const runId of runs) {
        const result = yield* runCli(root, ["status", "--run", runId, "--format", "json"])
        expect(result.code).toBe(0)
        const doc = JSON.parse(result.stdout) as Record<string, unknown>
        expect(Object.keys(doc).sort()).toEqual([
          "artifact_root", "child_runs", "commands", "completed_at", "heartbeat_age_seconds", "heartbeat_at",
          "heartbeat_stale", "log_path", "manifest", "run_id", "started_at", "status", "status_detail"
        ])
        expect(doc["run_id"]).toBe(runId)
        expect(doc["heartbeat_stale"]).toBe(false)
      }
      const text = yield* runCli(root, ["status", "--run", "2026-11-29T20-37-54-514Z-8578f92a"])
      expect(text.stdout.split("\n")[0]).toBe("Run 2026-11-29T20-37-54-514Z-8578f92a: failed (stage:lint:failed)")
    }))

  it.live("resume continues the failed legacy run once its command is fixed; a new run merges into state and metrics", () =>
    Effect.gen(function*() {
      const root = copyLegacyFixture()
      const configPath = path.join(root, "codex.orchestrator.json")
      const fixed = JSON.parse(fs.readFileSync(configPath, "utf8")) as { pipelines: Array<{ id: string; stages: Array<{ command?: string }> }> }
      const failing = fixed.pipelines.find((p) => p.id === "failing")
      if (failing?.stages[0] !== undefined) failing.stages[0].command = "echo fixed"
      fs.writeFileSync(configPath, JSON.stringify(fixed))

      const runId = "2026-11-29T20-37-54-514Z-8578f92a"
      const resumed = yield* runCli(root, ["resume", "--run", runId, "--format", "json"])
      expect(resumed.stderr).toBe("")
      expect(resumed.code).toBe(0)
      const manifest = readJson(path.join(root, ".runs/legacy-demo/cli", runId, "manifest.json")) as { status: string; resume_events: ReadonlyArray<unknown> }
      expect(manifest.status).toBe("succeeded")
      expect(manifest.resume_events).toHaveLength(1)

      const fresh = yield* runCli(root, ["start", "simple", "--task", "legacy-demo", "--format", "json"])
      expect(fresh.code).toBe(0)
      const state = readJson(path.join(root, "out/legacy-demo/state.json")) as { runs: ReadonlyArray<{ runId: string; timestamp: string }> }
      expect(state.runs).toHaveLength(5)
      const timestamps = state.runs.map((r) => r.timestamp)
      expect(timestamps).toEqual([...timestamps].sort())
      expect(state.runs.find((r) => r.runId === runId)).toBeDefined()
      const metrics = readLines(path.join(root, ".runs/legacy-demo/metrics.json"))
      expect(metrics).toHaveLength(6)
    }))
})

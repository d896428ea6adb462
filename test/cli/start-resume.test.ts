import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { decodeRunManifest } from "../../src/domain/RunManifest.js"
import { TaskStateSnapshotJson } from "../../src/domain/RunSummary.js"
import { makeProject, readJson, readLines, runCli } from "../support/CliHarness.js"

const cmd = (id: string, command: string, extra: Record<string, unknown> = {}) => ({ kind: "command", id, title: `Stage ${id}`, command, ...extra })

const manifestOf = (root: string, runId: string, task = "t1") =>
  Effect.runSync(decodeRunManifest(fs.readFileSync(path.join(root, ".runs", task, "cli", runId, "manifest.json"), "utf8")))

interface StartAnswer {
  readonly run_id: string
  readonly status: string
  readonly artifact_root: string
  readonly manifest: string
  readonly log_path: string
}

const answer = (stdout: string) => JSON.parse(stdout) as StartAnswer

describe("start", () => {
  it.live("runs a pipeline and leaves every file of the contract", () =>
    Effect.gen(function*() {
      const root = makeProject({
        pipelines: [{
          id: "ok",
          title: "All good",
          stages: [cmd("hello", "echo hello; echo warn >&2"), cmd("spec-guard", "echo 'spec-guard: 2 passed, 0 failed'")]
        }]
      })
      const result = yield* runCli(root, ["start", "ok", "--task", "t1", "--format", "json"])
      expect(result.code).toBe(0)
      const doc = answer(result.stdout)
      expect(Object.keys(doc)).toEqual(["run_id", "status", "artifact_root", "manifest", "log_path"])
      expect(doc.status).toBe("succeeded")
      expect(doc.run_id).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]{8}$/)
      const dir = path.join(root, doc.artifact_root)
      expect(doc.artifact_root).toBe(`.runs/t1/cli/${doc.run_id}`)

      const manifest = manifestOf(root, doc.run_id)
      expect(manifest.status).toBe("succeeded")
      expect(manifest.metrics_recorded).toBe(true)
      expect(manifest.commands.map((c) => [c.status, c.exit_code])).toEqual([["succeeded", 0], ["succeeded", 0]])
      expect(manifest.commands[0]?.summary).toBe("hello")
      expect(manifest.summary).toBe("Guardrails: spec-guard succeeded (2 passed).")
      expect(manifest.run_summary_path).toBe(`${doc.artifact_root}/run-summary.json`)

      expect(fs.readFileSync(path.join(dir, ".heartbeat"), "utf8")).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\n$/)
      const token = path.join(dir, ".resume-token")
      expect(fs.readFileSync(token, "utf8")).toBe(`${manifest.resume_token}\n`)
      expect(fs.statSync(token).mode & 0o777).toBe(0o600)

      const events = readLines(path.join(dir, "runner.ndjson")) as ReadonlyArray<{ type: string; index: number; data?: string }>
      expect(events.map((e) => e.type)).toContain("command:stderr")
      expect(events.filter((e) => e.index === 1).map((e) => e.type)[0]).toBe("command:start")
      expect(readLines(path.join(dir, "commands", "01-hello.ndjson")).length).toBe(
        events.filter((e) => e.index === 1).length
      )

      expect(readJson(path.join(root, ".runs/t1/mcp", doc.run_id, "manifest.json"))).toMatchObject({
        redirect_to: doc.artifact_root,
        manifest: doc.manifest
      })
      expect(readJson(path.join(root, ".runs/local-mcp", doc.run_id, "manifest.json"))).toMatchObject({ run_id: doc.run_id })
      expect(readJson(path.join(root, ".runs/t1", doc.run_id, "manifest.json"))).toMatchObject({ runId: doc.run_id, taskId: "t1" })
      expect(readJson(path.join(dir, "run-summary.json"))).toMatchObject({ runId: doc.run_id, test: { success: true } })

      const metrics = readLines(path.join(root, ".runs/t1/metrics.json"))
      expect(metrics).toEqual([expect.objectContaining({ run_id: doc.run_id, status: "succeeded", commands_passed: 2, guardrails_present: true })])
      const state = Schema.decodeUnknownSync(TaskStateSnapshotJson)(fs.readFileSync(path.join(root, "out/t1/state.json"), "utf8"))
      expect(state.runs.map((r) => r.runId)).toEqual([doc.run_id])
      expect(fs.existsSync(path.join(root, ".runs/t1.lock"))).toBe(false)
    }))

  it.live("a failing stage fails the run with an error file; resume re-runs only what did not succeed", () =>
    Effect.gen(function*() {
      const root = makeProject({
        pipelines: [{
          id: "flaky",
          title: "Flaky",
          stages: [
            cmd("count", "echo ran >> counter.txt"),
            cmd("check", "test -f marker || { echo 'marker missing' >&2; exit 3; }"),
            cmd("after", "echo after")
          ]
        }]
      })
      const first = yield* runCli(root, ["start", "flaky", "--task", "t1", "--format", "json"])
      expect(first.code).toBe(1)
      const runId = answer(first.stdout).run_id
      const failed = manifestOf(root, runId)
      expect([failed.status, failed.status_detail]).toEqual(["failed", "stage:check:failed"])
      expect(failed.commands.map((c) => c.status)).toEqual(["succeeded", "failed", "pending"])
      expect(failed.summary?.split("\n")[0]).toBe("Stage 'check' failed with exit code 3.")
      expect(failed.commands[1]?.summary).toBe("Exited with code 3 — marker missing")
      const errorFile = readJson(path.join(root, failed.commands[1]?.error_file ?? "")) as { details: { exit_code: number; stderr: string } }
      expect(errorFile).toMatchObject({ run_id: runId, task_id: "t1", command_index: 2, command_id: "check", reason: "command-failed" })
      expect(errorFile.details.exit_code).toBe(3)
      expect(errorFile.details.stderr).toContain("marker missing")

      const wrong = yield* runCli(root, ["resume", "--run", runId, "--token", "0".repeat(64)])
      expect(wrong.code).toBe(2)
      expect(wrong.stderr).toMatch(/resume token does not match/)
      expect(manifestOf(root, runId)).toEqual(failed)

      fs.writeFileSync(path.join(root, "marker"), "")
      const resumed = yield* runCli(root, ["resume", "--run", runId, "--token", failed.resume_token, "--actor", "ci", "--reason", "fixed", "--format", "json"])
      expect(resumed.code).toBe(0)
      const done = manifestOf(root, runId)
      expect([done.status, done.status_detail]).toEqual(["succeeded", null])
      expect(done.commands.map((c) => c.status)).toEqual(["succeeded", "succeeded", "succeeded"])
      expect(done.resume_events).toEqual([expect.objectContaining({ actor: "ci", reason: "fixed", outcome: "accepted" })])
      expect(fs.readFileSync(path.join(root, "counter.txt"), "utf8")).toBe("ran\n")
      const metrics = readLines(path.join(root, ".runs/t1/metrics.json")) as ReadonlyArray<{ status: string }>
      expect(metrics.map((m) => m.status)).toEqual(["failed", "succeeded"])
      const state = readJson(path.join(root, "out/t1/state.json")) as { runs: ReadonlyArray<{ runId: string; build: { success: boolean } }> }
      expect(state.runs).toEqual([expect.objectContaining({ runId, build: expect.objectContaining({ success: true }) })])

      const again = yield* runCli(root, ["resume", "--run", runId])
      expect(again.code).toBe(2)
      expect(manifestOf(root, runId).resume_events.map((e) => e.outcome)).toEqual(["accepted", "blocked"])
    }))

  it.live("runs sub-pipelines as child runs linked both ways; an optional failing child is skipped", () =>
    Effect.gen(function*() {
      const root = makeProject({
        pipelines: [
          { id: "parent", title: "Parent", stages: [cmd("prep", "true"), { kind: "subpipeline", id: "kid", title: "Kid", pipeline: "child" }, { kind: "subpipeline", id: "bad", title: "Bad", pipeline: "broken", optional: true }] },
          { id: "child", title: "Child", stages: [cmd("hi", "echo hi")] },
          { id: "broken", title: "Broken", stages: [cmd("nope", "exit 4")] }
        ]
      })
      const result = yield* runCli(root, ["start", "parent", "--task", "t1", "--format", "json"])
      expect(result.code).toBe(0)
      const parent = manifestOf(root, answer(result.stdout).run_id)
      expect(parent.commands.map((c) => [c.kind, c.status])).toEqual([["command", "succeeded"], ["subpipeline", "succeeded"], ["subpipeline", "skipped"]])
      expect(parent.child_runs.map((c) => [c.pipeline_id, c.status])).toEqual([["child", "succeeded"], ["broken", "failed"]])
      for (const child of parent.child_runs) {
        const manifest = manifestOf(root, child.run_id)
        expect(manifest.parent_run_id).toBe(parent.run_id)
        expect(child.manifest).toBe(`.runs/t1/cli/${child.run_id}/manifest.json`)
      }
      expect(parent.commands[1]?.sub_run_id).toBe(parent.child_runs[0]?.run_id)
      const state = readJson(path.join(root, "out/t1/state.json")) as { runs: ReadonlyArray<unknown> }
      expect(state.runs.length).toBe(3)
    }))

  it.live("a stage's timeoutMs stops it and fails the stage with a summary saying so", () =>
    Effect.gen(function*() {
      const root = makeProject({ pipelines: [{ id: "slow", title: "Slow", stages: [cmd("nap", "sleep 30", { timeoutMs: 300 })] }] })
      const result = yield* runCli(root, ["start", "slow", "--task", "t1", "--format", "json"])
      expect(result.code).toBe(1)
      const manifest = manifestOf(root, answer(result.stdout).run_id)
      expect(manifest.commands[0]?.status).toBe("failed")
      expect(manifest.commands[0]?.summary).toBe("Timed out after 300 ms")
    }))

  it.live("resume keeps a skipped (allowFailure) stage as it is and runs only what failed", () =>
    Effect.gen(function*() {
      const root = makeProject({
        pipelines: [{
          id: "p",
          title: "P",
          stages: [cmd("lenient", "echo ran >> lenient.txt; exit 1", { allowFailure: true }), cmd("strict", "test -f marker || exit 2")]
        }]
      })
      const first = yield* runCli(root, ["start", "p", "--task", "t1", "--format", "json"])
      const runId = answer(first.stdout).run_id
      expect(manifestOf(root, runId).commands.map((c) => c.status)).toEqual(["skipped", "failed"])
      fs.writeFileSync(path.join(root, "marker"), "")
      const resumed = yield* runCli(root, ["resume", "--run", runId, "--format", "json"])
      expect(resumed.code).toBe(0)
      expect(manifestOf(root, runId).commands.map((c) => c.status)).toEqual(["skipped", "succeeded"])
      expect(fs.readFileSync(path.join(root, "lenient.txt"), "utf8")).toBe("ran\n")
    }))
})


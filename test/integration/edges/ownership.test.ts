import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  cmd,
  expectBadInput,
  installHooks,
  launch,
  manifestOf,
  pipeline,
  project,
  readLines,
  run,
  startAnswer,
  sub,
  within
} from "./binary.js"

installHooks()

describe("one writer per run", () => {
  it("two resumes of one run at the same moment: one continues it, the other is refused naming the owner", async () => {
    const root = project({
      pipelines: [pipeline("p", [
        cmd("count", "echo ran >> counter.txt"),
        cmd("check", "sleep 2; test -f marker || { echo missing >&2; exit 3; }")
      ])]
    })
    const first = run(root, ["start", "p", "--task", "t1", "--format", "json"])
    expect(first.code, first.stderr).toBe(1)
    const runId = startAnswer(first.stdout).run_id
    fs.writeFileSync(path.join(root, "marker"), "")

    const a = launch(root, ["resume", "--run", runId, "--format", "json"])
    const b = launch(root, ["resume", "--run", runId, "--format", "json"])
    const results = await within(Promise.all([a.done, b.done]), 30_000, "two resumes")

    expect(results.map((r) => r.code).sort(), JSON.stringify(results.map((r) => r.stderr))).toEqual([0, 2])
    const loser = results.find((r) => r.code === 2)
    if (loser === undefined) throw new Error("no refused resume")
    expectBadInput(loser, { mentions: [/codex-orchestrator: run \S+ is being resumed by pid \d+ on \S+/] })

    expect(fs.readFileSync(path.join(root, "counter.txt"), "utf8")).toBe("ran\n")
    const manifest = manifestOf(root, "t1", runId)
    expect(manifest.status).toBe("succeeded")
    expect(manifest.resume_events).toEqual([expect.objectContaining({ outcome: "accepted" })])
    const metrics = readLines(path.join(root, ".runs/t1/metrics.json"))
    expect(metrics.map((m) => m["status"])).toEqual(["failed", "succeeded"])
  })

  it("resuming a parent whose sub-pipeline failed continues the same child run", () => {
    const root = project({
      pipelines: [
        pipeline("parent", [cmd("prep", "true"), sub("kid", "child")]),
        pipeline("child", [cmd("deploy", "echo deployed >> deploys.txt"), cmd("check", "test -f marker || exit 3")])
      ]
    })
    const first = run(root, ["start", "parent", "--task", "t1", "--format", "json"])
    expect(first.code, first.stderr).toBe(1)
    const parentId = startAnswer(first.stdout).run_id
    const childId = manifestOf(root, "t1", parentId).commands[1]?.sub_run_id
    expect(childId).toEqual(expect.any(String))
    if (childId === undefined || childId === null) throw new Error("no child run recorded")
    const deployBefore = manifestOf(root, "t1", childId).commands[0]

    fs.writeFileSync(path.join(root, "marker"), "")
    const resumed = run(root, ["resume", "--run", parentId])
    expect(resumed.code, resumed.stderr).toBe(0)

    expect(fs.readFileSync(path.join(root, "deploys.txt"), "utf8").split("\n").filter((l) => l !== "")).toHaveLength(1)
    const parent = manifestOf(root, "t1", parentId)
    expect(parent.status).toBe("succeeded")
    expect(parent.commands[1]?.sub_run_id).toBe(childId)
    expect(parent.child_runs).toHaveLength(1)
    expect(parent.child_runs[0]).toMatchObject({ run_id: childId, status: "succeeded" })
    const child = manifestOf(root, "t1", childId)
    expect(child.status).toBe("succeeded")
    expect(child.commands[0]).toEqual(deployBefore)
  })
})

describe("duplicate ids are config errors", () => {
  it("two stages with one id in a pipeline: plan and start refuse it naming pipelines[0].stages[1].id", () => {
    const root = project({ pipelines: [pipeline("p", [cmd("build", "true"), cmd("build", "echo again")])] })
    for (const verb of ["plan", "start"]) {
      expectBadInput(run(root, [verb, "p", "--task", "t1"]), { root, mentions: ["pipelines[0].stages[1].id"] })
    }
  })

  it("two pipelines with one id: plan and start refuse it naming pipelines[1].id", () => {
    const root = project({ pipelines: [pipeline("p", [cmd("a", "true")]), pipeline("p", [cmd("b", "true")])] })
    for (const verb of ["plan", "start"]) {
      expectBadInput(run(root, [verb, "p", "--task", "t1"]), { root, mentions: ["pipelines[1].id"] })
    }
  })
})

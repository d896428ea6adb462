import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  cmd,
  diesWithin,
  expectBadInput,
  isAlive,
  launch,
  installHooks,
  manifestOf,
  manifestPath,
  onePipeline,
  readJson,
  run,
  runDir,
  runIds,
  waitForPid,
  waitUntil,
  within
} from "./binary.js"

installHooks()

const STUBBORN = {
  sleep: "trap '' TERM INT HUP; echo $$ > stage.pid; sleep 100",
  loop: "trap '' TERM INT HUP; echo $$ > stage.pid; while :; do sleep 1; done"
} as const

const cases = [
  ["SIGINT", 130, "sleep"],
  ["SIGINT", 130, "loop"],
  ["SIGTERM", 143, "sleep"],
  ["SIGTERM", 143, "loop"],
  ["SIGHUP", 129, "sleep"],
  ["SIGHUP", 129, "loop"]
] as const

describe("one way to stop", () => {
  it.each(cases)("%s to the orchestrator: exit %i, run cancelled, stage gone (stage ignoring signals, %s variant)", async (signal, code, variant) => {
    const root = onePipeline([cmd("nap", STUBBORN[variant], { stopGraceMs: 500 })])
    const orchestrator = launch(root, ["start", "p", "--task", "t1", "--format", "json"])
    const stagePid = await waitForPid(path.join(root, "stage.pid"), { whileRunning: orchestrator })
    orchestrator.child.kill(signal)
    const result = await within(orchestrator.done, 15_000, `the orchestrator after ${signal}`)

    expect({ code: result.code, signal: result.signal }, result.stderr).toEqual({ code, signal: null })
    const doc = JSON.parse(result.stdout) as { status: string; run_id: string }
    expect(doc.status).toBe("cancelled")
    const manifest = manifestOf(root, "t1", doc.run_id)
    expect([manifest.status, manifest.status_detail]).toEqual(["cancelled", `cancelled:${signal}`])
    expect(await diesWithin(stagePid, 3_000), `stage pid ${stagePid} still alive`).toBe(true)
  })

  it("stopGraceMs is validated: -1 and \"x\" are refused naming the field, 500 is accepted", () => {
    for (const bad of [-1, "x"]) {
      const root = onePipeline([cmd("nap", "true", { stopGraceMs: bad })])
      expectBadInput(run(root, ["plan", "p", "--task", "t1"]), { root, mentions: ["pipelines[0].stages[0].stopGraceMs"] })
    }
    const root = onePipeline([cmd("nap", "true", { stopGraceMs: 500 })])
    const ok = run(root, ["plan", "p", "--task", "t1"])
    expect(ok.code, ok.stderr).toBe(0)
  })
})

describe("an orchestrator killed with SIGKILL", () => {
  it("leaves a stale run whose live stage status reports, and resume stops it before continuing", async () => {
    const stage = "if [ -f second ]; then echo resumed; else touch second; echo $$ > stage.pid; sleep 60; fi"
    const root = onePipeline([cmd("work", stage)])
    const orchestrator = launch(root, ["start", "p", "--task", "t1", "--format", "json"])
    const stagePid = await waitForPid(path.join(root, "stage.pid"), { whileRunning: orchestrator })
    const runId = await waitUntil(() => runIds(root, "t1")[0], "the run directory", { whileRunning: orchestrator })
    await waitUntil(
      () => (manifestOf(root, "t1", runId).commands[0]?.status === "running" ? true : undefined),
      "the stage to be recorded running",
      { whileRunning: orchestrator }
    )
    orchestrator.child.kill("SIGKILL")
    await within(orchestrator.done, 15_000, "the SIGKILLed orchestrator")
    expect(isAlive(stagePid), "the stage outlives its SIGKILLed orchestrator").toBe(true)

    // The run's process died a minute ago as far as its heartbeat says.
    const file = manifestPath(root, "t1", runId)
    const minuteAgo = new Date(Date.now() - 60_000).toISOString()
    const manifest = readJson(file)
    expect(manifest["status"]).toBe("in_progress")
    fs.writeFileSync(file, JSON.stringify({ ...manifest, updated_at: minuteAgo, heartbeat_at: minuteAgo }, null, 2))
    fs.writeFileSync(path.join(runDir(root, "t1", runId), ".heartbeat"), `${minuteAgo}\n`)

    const json = run(root, ["status", "--run", runId, "--format", "json"])
    expect(json.code, json.stderr).toBe(0)
    const doc = JSON.parse(json.stdout) as Record<string, unknown>
    expect(doc["heartbeat_stale"]).toBe(true)
    expect(doc["live_processes"]).toEqual({ stage_id: "work", pgid: stagePid })
    const text = run(root, ["status", "--run", runId])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout.split("\n").some((line) => line.includes("still has live processes")), text.stdout).toBe(true)

    const resumed = run(root, ["resume", "--run", runId])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(await diesWithin(stagePid, 3_000), `old stage pid ${stagePid} still alive after resume`).toBe(true)
    const after = JSON.parse(run(root, ["status", "--run", runId, "--format", "json"]).stdout) as Record<string, unknown>
    expect(after).not.toHaveProperty("live_processes")
  })
})

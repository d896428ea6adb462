import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Shutdown } from "../../src/run/Shutdown.js"
import { makeProject, readJson, readLines, runCli } from "../support/CliHarness.js"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const waitFor = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && !check(); i++) yield* Effect.sleep(Duration.millis(50))
    expect(check()).toBe(true)
  })

describe("Ctrl-C during a run", () => {
  it.live("stops the stage's whole process tree, marks the run cancelled, flushes and answers 130", () =>
    Effect.gen(function*() {
      const root = makeProject({
        pipelines: [{
          id: "long",
          title: "Long",
          stages: [
            { kind: "command", id: "nap", title: "Nap", command: "sleep 60 & echo $! > grandchild.pid; echo $$ > child.pid; wait" },
            { kind: "command", id: "never", title: "Never", command: "touch never-ran" }
          ]
        }]
      })
      const shutdown = yield* Shutdown.make
      const fiber = yield* Effect.fork(runCli(root, ["start", "long", "--task", "t1", "--format", "json"], { shutdown }))
      yield* waitFor(() => fs.existsSync(path.join(root, "grandchild.pid")) && fs.existsSync(path.join(root, "child.pid")))
      const pids = ["child.pid", "grandchild.pid"].map((f) => Number(fs.readFileSync(path.join(root, f), "utf8").trim()))
      yield* shutdown.request("SIGINT")
      const result = yield* Fiber.join(fiber)

      expect(result.code).toBe(130)
      const doc = JSON.parse(result.stdout) as { run_id: string; status: string }
      expect(doc.status).toBe("cancelled")
      yield* waitFor(() => pids.every((pid) => !alive(pid)))
      expect(fs.existsSync(path.join(root, "never-ran"))).toBe(false)

      const dir = path.join(root, ".runs/t1/cli", doc.run_id)
      const manifest = readJson(path.join(dir, "manifest.json")) as {
        status: string
        status_detail: string
        completed_at: string | null
        metrics_recorded: boolean
        commands: ReadonlyArray<{ status: string }>
      }
      expect([manifest.status, manifest.status_detail]).toEqual(["cancelled", "cancelled:SIGINT"])
      expect(manifest.completed_at).not.toBeNull()
      expect(manifest.metrics_recorded).toBe(true)
      expect(manifest.commands.map((c) => c.status)).toEqual(["failed", "pending"])
      expect(readLines(path.join(root, ".runs/t1/metrics.json"))).toEqual([expect.objectContaining({ status: "cancelled" })])
      expect(fs.existsSync(path.join(root, ".runs/t1.lock"))).toBe(false)
    }))
})

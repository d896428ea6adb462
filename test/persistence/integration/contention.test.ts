/**
 * Integration: contention for one task's state on the real disk, from 50 fibers and from 100 OS processes.
 * Whatever the contention, every run ends up in state.json or parked, and one more run merges them all.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Logger, LogLevel } from "effect"
import { build } from "esbuild"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { PersistenceCoordinator } from "../../../src/persistence/PersistenceCoordinator.js"
import { TaskStateStore } from "../../../src/persistence/TaskStateStore.js"
import { Settings } from "../../../src/Settings.js"
import { sampleSummary } from "../../support/PersistenceTestLayers.js"
import { livePersistence } from "./livePersistence.js"

const TASK = "contended"
let scratch = ""
let runner = ""

const onDisk = (root: string) => livePersistence(Settings.make(root))

const stateRunIds = (root: string): Array<string> => {
  const file = join(root, "out", TASK, "state.json")
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { runs: Array<{ runId: string }> }).runs.map((r) => r.runId) : []
}
const parkedRunIds = (root: string): Array<string> => {
  const dir = join(root, "out", TASK, "pending")
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith(".json")).map((name) => name.slice(0, -5)) : []
}

/** Everything recorded or parked; then one more run leaves all of them in state.json, nothing parked, no lock. */
const expectNothingLost = (root: string, count: number) =>
  Effect.gen(function*() {
    const expected = Array.from({ length: count }, (_, i) => sampleSummary(TASK, i + 1).runId)
    const seen = new Set([...stateRunIds(root), ...parkedRunIds(root)])
    expect(expected.filter((runId) => !seen.has(runId))).toEqual([])
    const last = sampleSummary(TASK, count + 1)
    yield* Effect.flatMap(TaskStateStore, (store) => store.recordRun(TASK, last)).pipe(Effect.provide(onDisk(root)))
    expect(stateRunIds(root).sort()).toEqual([...expected, last.runId].sort())
    expect(parkedRunIds(root)).toEqual([])
    expect(existsSync(join(root, ".runs", `${TASK}.lock`))).toBe(false)
    for (const runId of [...expected, last.runId].slice(0, count)) {
      expect(existsSync(join(root, ".runs", TASK, runId, "manifest.json"))).toBe(true)
    }
  })

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "persistence-contention-"))
  runner = join(scratch, "record-run.mjs")
  // A bundled runner starts in ~0.3 s; a TypeScript loader per process would dominate the test.
  await build({
    entryPoints: [fileURLToPath(new URL("./recordRunMain.ts", import.meta.url))],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: runner,
    minify: true,
    logLevel: "warning"
  })
})

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true })
})

describe("recordRun contention on the real disk", () => {
  it.live("50 fibers at once: every run recorded or parked, then all merged", () =>
    Effect.gen(function*() {
      const root = mkdtempSync(join(scratch, "fibers-"))
      const outcomes = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i + 1), (n) => {
        const summary = sampleSummary(TASK, n)
        return Effect.flatMap(PersistenceCoordinator, (c) => c.handleRunCompleted({ taskId: TASK, runId: summary.runId, summary }))
      }, { concurrency: "unbounded" }).pipe(Effect.provide(onDisk(root)), Logger.withMinimumLogLevel(LogLevel.Error))
      expect(outcomes.every((o) => o.snapshot === "recorded" || o.snapshot === "parked")).toBe(true)
      yield* expectNothingLost(root, 50)
    }), 60_000)

  it.live("100 OS processes at once: every run recorded or parked, then all merged", () =>
    Effect.gen(function*() {
      const root = mkdtempSync(join(scratch, "processes-"))
      const run = promisify(execFile)
      const outputs = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 100 }, (_, i) => run(process.execPath, [runner, root, TASK, String(i + 1)])))
      )
      const outcomes = outputs.map(({ stdout }) => JSON.parse(stdout) as { snapshot: string })
      const tally = outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o.snapshot]: (acc[o.snapshot] ?? 0) + 1 }), {})
      console.log(`100 processes: ${JSON.stringify(tally)}`)
      expect((tally.recorded ?? 0) + (tally.parked ?? 0)).toBe(100)
      yield* expectNothingLost(root, 100)
    }), 90_000)
})

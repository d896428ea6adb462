/**
 * The persistence behaviours that matter, against both stores from one test table (CONTRACT §7, §8,
 * §11): the files of §§1–10 alone, and the files plus a PostgreSQL database. Each case uses only the
 * built binary and `history --format json`; where the observable differs, a small per-store reader.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  type BinResult,
  cmd,
  diesWithin,
  type EnvOverrides,
  installHooks,
  launch,
  manifestPath,
  pipeline,
  project,
  readJson,
  readLines,
  run,
  runDir,
  startAnswer,
  waitForPid,
  within
} from "../edges/binary.js"
import type { HistoryRun } from "../../../src/history/RunHistory.js"
import { deadPort, dropDatabasesAfterAll, freshDatabase, query } from "../../support/PgDatabases.js"

installHooks()
dropDatabasesAfterAll()

const TASK = "same"

interface HistoryAnswer {
  readonly task_id: string
  readonly source: "files" | "database"
  readonly runs: ReadonlyArray<HistoryRun>
}

const HISTORY_FIELDS = ["run_id", "status", "status_detail", "pipeline_id", "parent_run_id", "host", "started_at", "completed_at", "heartbeat_at", "heartbeat_stale"]

const newProject = () =>
  project({
    pipelines: [
      pipeline("p", [cmd("t", "true")]),
      pipeline("slow", [cmd("s", "echo $$ > stage.pid; sleep 60")]),
      pipeline("flaky", [cmd("f", "test -f marker || exit 3")])
    ]
  })

const report = (result: BinResult) => `exit ${String(result.code)} signal ${String(result.signal)}\nstderr: ${result.stderr.slice(0, 3000)}`
const warnings = (stderr: string) => stderr.split("\n").filter((line) => /^codex-orchestrator: warn/.test(line))

const historyOf = (root: string, env: EnvOverrides): HistoryAnswer => {
  const result = run(root, ["history", "--task", TASK, "--limit", "100", "--format", "json"], { env })
  expect(result.code, report(result)).toBe(0)
  const answer = JSON.parse(result.stdout) as HistoryAnswer
  expect(answer.task_id).toBe(TASK)
  for (const entry of answer.runs) expect(Object.keys(entry).sort()).toEqual([...HISTORY_FIELDS].sort())
  const started = answer.runs.map((r) => r.started_at)
  expect(started, "newest first").toEqual([...started].sort().reverse())
  return answer
}

const start = (root: string, env: EnvOverrides, pipelineId = "p") => {
  const result = run(root, ["start", pipelineId, "--task", TASK, "--format", "json"], { env })
  return { result, runId: result.stdout.length > 0 ? startAnswer(result.stdout).run_id : "" }
}


/** Starts the slow pipeline and SIGKILLs the orchestrator (only it) once its stage runs; answers the run id. */
const killMidStage = async (root: string, env: EnvOverrides) => {
  const launched = launch(root, ["start", "slow", "--task", TASK, "--format", "json"], { env })
  await waitForPid(path.join(root, "stage.pid"), { whileRunning: launched })
  const runs = fs.readdirSync(path.join(root, ".runs", TASK, "cli"))
  expect(runs).toHaveLength(1)
  process.kill(launched.pid, "SIGKILL")
  const gone = await within(launched.done, 10_000, "the killed orchestrator")
  expect(gone.signal).toBe("SIGKILL")
  return runs[0] ?? ""
}

const iso60sAgo = () => new Date(Date.now() - 60_000).toISOString()

interface Store {
  readonly name: "files" | "postgres"
  readonly source: "files" | "database"
  /** The environment of every command of one test (its own database for postgres). */
  readonly env: () => Promise<EnvOverrides>
  /** The environment of one run while the store cannot take it, and how to make it available again. */
  readonly unavailable: (root: string, env: EnvOverrides) => Promise<{ readonly env: EnvOverrides; readonly restore: () => void }>
  /** What is parked for the store under the task's out dir. */
  readonly parked: (root: string) => Array<string>
  /** The statuses of a run's metrics entries, in the order recorded. */
  readonly metrics: (root: string, env: EnvOverrides, runId: string) => Promise<Array<string>>
  /** Makes a killed run's heartbeat a minute old where the store keeps it. */
  readonly ageHeartbeat: (root: string, env: EnvOverrides, runId: string) => Promise<void>
}

const jsonFilesIn = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.endsWith(".json")) : [])

const files: Store = {
  name: "files",
  source: "files",
  env: () => Promise.resolve({ CODEX_ORCHESTRATOR_HISTORY_URL: undefined }),
  unavailable: (root, env) => {
    // The task lock held by a live process on this host: recordRun waits its ~3 s, then parks.
    const holder = spawn("sleep", ["60"], { stdio: "ignore" })
    const pid = holder.pid ?? -1
    fs.writeFileSync(path.join(root, "lock-holder.pid"), `${pid}\n`)
    fs.mkdirSync(path.join(root, ".runs"), { recursive: true })
    const lock = path.join(root, ".runs", `${TASK}.lock`)
    fs.writeFileSync(lock, JSON.stringify({ pid, host: os.hostname(), token: "x", acquired_at: new Date().toISOString() }))
    return Promise.resolve({
      env,
      restore: () => {
        fs.rmSync(lock, { force: true })
        holder.kill("SIGKILL")
      }
    })
  },
  // The empty directory is left by every run (the summary is parked ahead of the snapshot, then removed).
  parked: (root) => jsonFilesIn(path.join(root, "out", TASK, "pending")),
  metrics: (root, _env, runId) =>
    Promise.resolve(readLines(path.join(root, ".runs", TASK, "metrics.json")).filter((line) => line["run_id"] === runId).map((line) => String(line["status"]))),
  ageHeartbeat: (root, _env, runId) => {
    const file = manifestPath(root, TASK, runId)
    const manifest = readJson(file)
    const ago = iso60sAgo()
    fs.writeFileSync(file, JSON.stringify({ ...manifest, heartbeat_at: ago, updated_at: ago }, null, 2))
    fs.writeFileSync(path.join(runDir(root, TASK, runId), ".heartbeat"), `${ago}\n`)
    return Promise.resolve()
  }
}

const urlOf = (env: EnvOverrides) => env["CODEX_ORCHESTRATOR_HISTORY_URL"] ?? ""

const postgres: Store = {
  name: "postgres",
  source: "database",
  env: async () => ({ CODEX_ORCHESTRATOR_HISTORY_URL: await freshDatabase() }),
  unavailable: async (_root, env) => {
    const url = new URL(urlOf(env))
    url.port = String(await deadPort())
    return { env: { ...env, CODEX_ORCHESTRATOR_HISTORY_URL: url.toString() }, restore: () => undefined }
  },
  parked: (root) => jsonFilesIn(path.join(root, "out", TASK, "pending-history")),
  metrics: async (_root, env, runId) =>
    (await query<{ status: string }>(urlOf(env), `select status from metrics where run_id = '${runId}' order by recorded_at, status`)).map((row) => row.status),
  ageHeartbeat: async (root, env, runId) => {
    // A command first pushes the killed run's journal (its files are fresher than the row), then the row ages.
    expect(historyOf(root, env).runs.map((r) => r.run_id)).toContain(runId)
    expect(postgres.parked(root)).toEqual([])
    await query(urlOf(env), `update runs set heartbeat_at = now() - interval '60 seconds', updated_at = now() - interval '60 seconds' where run_id = '${runId}'`)
  }
}

describe.each([files, postgres])("the $name store", (store) => {
  it("contention: 10 concurrent starts of one task all succeed and all are listed", async () => {
    const root = newProject()
    const env = await store.env()
    const launched = Array.from({ length: 10 }, () => launch(root, ["start", "p", "--task", TASK, "--format", "json"], { env }))
    const results = await within(Promise.all(launched.map((l) => l.done)), 45_000, "10 concurrent starts")
    for (const result of results) expect(result.code, report(result)).toBe(0)
    const ids = results.map((r) => startAnswer(r.stdout).run_id).sort()

    const answer = historyOf(root, env)
    expect(answer.source).toBe(store.source)
    expect(answer.runs.map((r) => r.run_id).sort()).toEqual(ids)
    expect(answer.runs.map((r) => r.status)).toEqual(Array(10).fill("succeeded"))
    for (const id of ids) expect(await store.metrics(root, env, id)).toEqual(["succeeded"])
    expect(store.parked(root)).toEqual([])
  })

  it("parking: a run the store cannot take is parked with one warning, and the next run brings it in", async () => {
    const root = newProject()
    const env = await store.env()
    const blocked = await store.unavailable(root, env)
    const first = start(root, blocked.env)
    expect(first.result.code, report(first.result)).toBe(0)
    expect(warnings(first.result.stderr), report(first.result)).toHaveLength(1)
    expect(store.parked(root)).toEqual([`${first.runId}.json`])
    blocked.restore()

    const second = start(root, env)
    expect(second.result.code, report(second.result)).toBe(0)
    expect(warnings(second.result.stderr), report(second.result)).toEqual([])
    const answer = historyOf(root, env)
    expect(answer.source).toBe(store.source)
    expect(answer.runs.map((r) => [r.run_id, r.status])).toEqual([[second.runId, "succeeded"], [first.runId, "succeeded"]])
    expect(store.parked(root)).toEqual([])
    expect(await store.metrics(root, env, first.runId)).toEqual(["succeeded"])
  })

  it("metrics once per outcome: failed, then succeeded on resume; a second resume is refused and adds none", async () => {
    const root = newProject()
    const env = await store.env()
    const failed = start(root, env, "flaky")
    expect(failed.result.code, report(failed.result)).toBe(1)
    expect(await store.metrics(root, env, failed.runId)).toEqual(["failed"])
    fs.writeFileSync(path.join(root, "marker"), "")

    const resumed = run(root, ["resume", "--run", failed.runId, "--format", "json"], { env })
    expect(resumed.code, report(resumed)).toBe(0)
    expect(await store.metrics(root, env, failed.runId)).toEqual(["failed", "succeeded"])

    const again = run(root, ["resume", "--run", failed.runId, "--format", "json"], { env })
    expect(again.code, report(again)).toBe(2)
    expect(await store.metrics(root, env, failed.runId)).toEqual(["failed", "succeeded"])
    const answer = historyOf(root, env)
    expect(answer.runs.map((r) => [r.run_id, r.status])).toEqual([[failed.runId, "succeeded"]])
  })

  it("staleness: a run whose orchestrator was SIGKILLed mid-stage is in_progress and stale once its heartbeat is old", async () => {
    const root = newProject()
    const env = await store.env()
    const runId = await killMidStage(root, env)
    const stagePid = Number(fs.readFileSync(path.join(root, "stage.pid"), "utf8"))
    await store.ageHeartbeat(root, env, runId)

    const answer = historyOf(root, env)
    expect(answer.source).toBe(store.source)
    expect(answer.runs).toEqual([expect.objectContaining({ run_id: runId, status: "in_progress", heartbeat_stale: true })])
    process.kill(-stagePid, "SIGKILL")
    expect(await diesWithin(stagePid)).toBe(true)
  })

  it("recovery after a crash: a run SIGKILLed right after its stage started is listed beside the next run", async () => {
    const root = newProject()
    const env = await store.env()
    const killed = await killMidStage(root, env)
    // With a database, the journal parked at bootstrap is what outlives the process.
    if (store.name === "postgres") expect(store.parked(root)).toEqual([`${killed}.json`])

    const next = start(root, env)
    expect(next.result.code, report(next.result)).toBe(0)
    if (store.name === "postgres") {
      expect(store.parked(root)).toEqual([])
      const rows = await query<{ run_id: string; status: string }>(urlOf(env), `select run_id, status from runs order by started_at`)
      expect(rows).toEqual([{ run_id: killed, status: "in_progress" }, { run_id: next.runId, status: "succeeded" }])
    }
    const answer = historyOf(root, env)
    expect(answer.runs.map((r) => [r.run_id, r.status])).toEqual([[next.runId, "succeeded"], [killed, "in_progress"]])
  })
})

/**
 * Many machines, one history (CONTRACT §11), on the built binary: two project roots stand for two
 * machines (`CODEX_ORCHESTRATOR_HOST`), each test with a database of its own on the shared server.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  type BinResult,
  cmd,
  type EnvOverrides,
  expectBadInput,
  installHooks,
  launch,
  pipeline,
  project,
  readLines,
  run,
  runIds,
  sleep,
  startAnswer,
  waitForPid,
  walkFiles,
  within
} from "../edges/binary.js"
import { deadPort, dropDatabasesAfterAll, freshDatabase, passwordOf, query, serverUrl } from "../../support/PgDatabases.js"

installHooks()
dropDatabasesAfterAll()

const TASK = "shared"
const STATUS_FIELDS = [
  "run_id", "status", "status_detail", "started_at", "completed_at", "manifest", "artifact_root", "log_path",
  "heartbeat_at", "commands", "child_runs", "heartbeat_age_seconds", "heartbeat_stale"
]

const config = {
  pipelines: [
    pipeline("p", [cmd("t", "true")]),
    pipeline("slow", [cmd("s", "echo $$ > stage.pid; sleep 60")]),
    pipeline("two", [cmd("s", "echo $$ > stage.pid; sleep 2")]),
    pipeline("talky", [
      cmd("env", "echo \"url=$CODEX_ORCHESTRATOR_HISTORY_URL\"; echo \"url=$CODEX_ORCHESTRATOR_HISTORY_URL\" >&2"),
      cmd("fail", "echo \"$CODEX_ORCHESTRATOR_HISTORY_URL\" >&2; exit 4")
    ])
  ]
}

const report = (result: BinResult) => `exit ${String(result.code)} signal ${String(result.signal)}\nstdout: ${result.stdout.slice(0, 1500)}\nstderr: ${result.stderr.slice(0, 3000)}`
const warnings = (stderr: string) => stderr.split("\n").filter((line) => /^codex-orchestrator: warn/.test(line))

interface Machine {
  readonly root: string
  readonly env: EnvOverrides
  readonly run: (args: ReadonlyArray<string>, extra?: EnvOverrides) => BinResult
}

const machine = (host: string, url: string): Machine => {
  const root = project(config)
  const env = { CODEX_ORCHESTRATOR_HOST: host, CODEX_ORCHESTRATOR_HISTORY_URL: url }
  return { root, env, run: (args, extra = {}) => run(root, args, { env: { ...env, ...extra } }) }
}

const started = (result: BinResult, code = 0) => {
  expect(result.code, report(result)).toBe(code)
  return startAnswer(result.stdout).run_id
}

const json = <A = Record<string, unknown>>(result: BinResult): A => {
  expect(result.code, report(result)).toBe(0)
  return JSON.parse(result.stdout) as A
}

interface HistoryAnswer {
  readonly source: string
  readonly runs: ReadonlyArray<{ readonly run_id: string; readonly status: string; readonly host: string; readonly heartbeat_stale: boolean }>
}

const historyOf = (m: Machine) => json<HistoryAnswer>(m.run(["history", "--task", TASK, "--format", "json"]))

/** Every file under `root` that holds `secret`. */
const filesHolding = (root: string, secret: string) => walkFiles(root).filter((file) => fs.readFileSync(file).includes(secret))

const sockets = new Set<net.Socket>()
const servers = new Set<net.Server>()
afterEach(async () => {
  for (const socket of sockets) socket.destroy()
  sockets.clear()
  await Promise.all([...servers].map((server) => new Promise((resolve) => server.close(resolve))))
  servers.clear()
})

/** A TCP server that accepts and never answers; its port. */
const silentServer = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer((socket) => void sockets.add(socket))
    servers.add(server)
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port))
  })

/** Refused as §11 says: exit 2, nothing on stdout, one line on stderr naming the schema version, no stack. */
const expectSchemaRefusal = (result: BinResult) => {
  expect(result.code, report(result)).toBe(2)
  expect(result.stdout, report(result)).toBe("")
  expect(result.stderr, report(result)).toMatch(/^codex-orchestrator: [^\n]*schema version 99[^\n]*\n$/)
}


const databaseOf = (url: string) => new URL(url).pathname.slice(1)

describe("two machines, one database", () => {
  it("B lists A's run with A's host, answers its status from the database, and refuses to resume it naming host-a", async () => {
    const url = await freshDatabase()
    const a = machine("host-a", url)
    const b = machine("host-b", url)
    const runId = started(a.run(["start", "p", "--task", TASK, "--format", "json"]))

    const listed = historyOf(b)
    expect(listed.source).toBe("database")
    expect(listed.runs).toEqual([expect.objectContaining({ run_id: runId, status: "succeeded", host: "host-a", heartbeat_stale: false })])

    const status = json(b.run(["status", "--run", runId, "--format", "json"]))
    expect(Object.keys(status)).toEqual(expect.arrayContaining([...STATUS_FIELDS, "host", "source"]))
    expect(status).toMatchObject({ run_id: runId, status: "succeeded", status_detail: null, host: "host-a", source: "database", heartbeat_stale: false })
    expect(status["manifest"]).toBe(`.runs/${TASK}/cli/${runId}/manifest.json`)
    expect(status["commands"]).toEqual([expect.objectContaining({ id: "t", status: "succeeded" })])

    const resumed = b.run(["resume", "--run", runId])
    expectBadInput(resumed, { mentions: ["host-a", runId] })
    expect(fs.existsSync(path.join(b.root, ".runs", TASK, "cli", runId))).toBe(false)
  })

  it("a SIGKILLed run on A whose heartbeat is old is stale in B's status and history", async () => {
    const url = await freshDatabase()
    const a = machine("host-a", url)
    const b = machine("host-b", url)
    const launched = launch(a.root, ["start", "slow", "--task", TASK, "--format", "json"], { env: a.env })
    await waitForPid(path.join(a.root, "stage.pid"), { whileRunning: launched })
    const runId = runIds(a.root, TASK)[0] ?? ""
    process.kill(launched.pid, "SIGKILL")
    await within(launched.done, 10_000, "the killed orchestrator")
    // A's next command pushes its journal: the database then has the run whatever the writer had sent.
    const pushed = a.run(["history", "--task", TASK, "--format", "json"])
    expect(pushed.code, report(pushed)).toBe(0)
    await query(url, `update runs set heartbeat_at = now() - interval '60 seconds', updated_at = now() - interval '60 seconds' where run_id = '${runId}'`)

    const status = json(b.run(["status", "--run", runId, "--format", "json"]))
    expect(status).toMatchObject({ run_id: runId, status: "in_progress", host: "host-a", source: "database", heartbeat_stale: true })
    expect(status["heartbeat_age_seconds"]).toBeGreaterThanOrEqual(59)
    expect(historyOf(b).runs).toEqual([expect.objectContaining({ run_id: runId, status: "in_progress", host: "host-a", heartbeat_stale: true })])
  })

  it("a database at a newer schema refuses start and history with one line, exit 2, and no run directory", async () => {
    const url = await freshDatabase()
    const a = machine("host-a", url)
    const b = machine("host-b", url)
    started(a.run(["start", "p", "--task", TASK, "--format", "json"]))
    await query(url, `insert into codex_migrations (migration_id, name) values (99, 'from the future')`)

    const refused = b.run(["start", "p", "--task", TASK, "--format", "json"])
    expectSchemaRefusal(refused)
    expect(runIds(b.root, TASK)).toEqual([])
    expectSchemaRefusal(b.run(["history", "--task", TASK, "--format", "json"]))
    expectSchemaRefusal(a.run(["start", "p", "--task", TASK, "--format", "json"]))
    expect(runIds(a.root, TASK)).toHaveLength(1)
  })
})

describe("the database's password", () => {
  it("a wrong one: the run still succeeds with one warning, and the password is in no output and no file", async () => {
    const server = new URL(serverUrl())
    const wrong = `postgres://codex:WRONGpassword123@127.0.0.1:${server.port}/codex`
    const a = machine("host-a", wrong)
    const result = a.run(["start", "p", "--task", TASK, "--format", "json"])
    started(result)
    expect(warnings(result.stderr), report(result)).toHaveLength(1)
    const outputs = [result, a.run(["start", "talky", "--task", TASK, "--format", "json"], { CODEX_ORCHESTRATOR_LOG: "debug" })]
    outputs.push(a.run(["history", "--task", TASK, "--format", "json"], { CODEX_ORCHESTRATOR_LOG: "debug" }))
    outputs.push(a.run(["status", "--run", "2020-01-01T00-00-00-000Z-00000000"], { CODEX_ORCHESTRATOR_LOG: "debug" }))
    expect(outputs[1]?.code).toBe(1)
    for (const output of outputs) expect(`${output.stdout}${output.stderr}`).not.toContain("WRONGpassword123")
    expect(filesHolding(a.root, "WRONGpassword123")).toEqual([])
  })

  it("the right one: after runs that print the URL, it appears nowhere under the root nor in any output", async () => {
    const url = await freshDatabase()
    const password = passwordOf(url)
    const a = machine("host-a", url)
    const outputs = [
      a.run(["start", "p", "--task", TASK, "--format", "json"]),
      a.run(["start", "talky", "--task", TASK, "--format", "json"], { CODEX_ORCHESTRATOR_LOG: "debug" }),
      a.run(["history", "--task", TASK], { CODEX_ORCHESTRATOR_LOG: "debug" })
    ]
    expect(outputs.map((o) => o.code)).toEqual([0, 1, 0])
    const talky = startAnswer(outputs[1]?.stdout ?? "").run_id
    const printed = readLines(path.join(a.root, ".runs", TASK, "cli", talky, "commands", "01-env.ndjson"))
      .filter((event) => event["type"] === "command:stdout").map((event) => String(event["data"])).join("")
    expect(printed).toContain("url=postgres://codex:***@127.0.0.1")
    for (const output of outputs) expect(`${output.stdout}${output.stderr}`).not.toContain(password)
    expect(filesHolding(a.root, password)).toEqual([])
    const rows = await query<{ manifest: unknown }>(url, `select manifest from runs`)
    expect(rows).toHaveLength(2)
    expect(JSON.stringify(rows)).not.toContain(password)
  })
})

describe("the database's password in the forms a URL holds it", () => {
  it("a password with %-escapes in the URL is masked in the form the URL holds", async () => {
    const server = new URL(serverUrl())
    const a = machine("host-a", `postgres://codex:pa%2Fss%25wo%40rd!Secret9@127.0.0.1:${server.port}/codex`)
    const result = a.run(["start", "talky", "--task", TASK, "--format", "json"])
    expect(result.code, report(result)).toBe(1)
    expect(filesHolding(a.root, "Secret9")).toEqual([])
  })

  it("a one-letter password does not mask that letter everywhere (the manifest's runner stays codex-cli)", async () => {
    const a = machine("host-a", `postgres://codex:x@127.0.0.1:${await deadPort()}/codex`)
    const runId = started(a.run(["start", "p", "--task", TASK, "--format", "json"]))
    const manifest = JSON.parse(fs.readFileSync(path.join(a.root, ".runs", TASK, "cli", runId, "manifest.json"), "utf8")) as { runner: string }
    expect(manifest.runner).toBe("codex-cli")
  })
})

describe("a database that misbehaves", () => {
  it("one that cannot be reached: history answers from the files with one warning, status of an unknown run is refused with one line", async () => {
    const port = await deadPort()
    const a = machine("host-a", `postgres://codex:not-reached-7@127.0.0.1:${port}/codex`)
    const runId = started(run(a.root, ["start", "p", "--task", TASK, "--format", "json"]))
    const listed = a.run(["history", "--task", TASK, "--format", "json"])
    expect(listed.code, report(listed)).toBe(0)
    expect(warnings(listed.stderr), report(listed)).toHaveLength(1)
    expect(JSON.parse(listed.stdout)).toMatchObject({ source: "files", runs: [{ run_id: runId }] })
    expectBadInput(a.run(["status", "--run", "2020-01-01T00-00-00-000Z-00000000"]), { mentions: ["could not be asked"] })
    expectBadInput(a.run(["resume", "--run", "2020-01-01T00-00-00-000Z-00000000"]), { mentions: ["not found"] })
  })

  it("one that accepts and never answers: the run finishes as without a database, one warning, within 15 s", async () => {
    const port = await silentServer()
    const a = machine("host-a", `postgres://codex:never-answers-9@127.0.0.1:${port}/codex`)
    const began = Date.now()
    const launched = launch(a.root, ["start", "p", "--task", TASK, "--format", "json"], { env: a.env })
    const result = await within(launched.done, 15_000, "a start against a silent database")
    const runId = started(result)
    expect(Date.now() - began).toBeLessThan(15_000)
    expect(warnings(result.stderr), report(result)).toHaveLength(1)
    const local = json<HistoryAnswer>(run(a.root, ["history", "--task", TASK, "--format", "json"]))
    expect(local.runs).toEqual([expect.objectContaining({ run_id: runId, status: "succeeded" })])
    expect(fs.readdirSync(path.join(a.root, "out", TASK, "pending-history"))).toEqual([`${runId}.json`])
  })

  it("a backlog: runs parked while it was away are all pushed by the next start, which warns nothing itself", async () => {
    const url = await freshDatabase()
    const a = machine("host-a", url)
    const away = new URL(url)
    away.port = String(await deadPort())
    const parked = await within(Promise.all(Array.from({ length: 12 }, () =>
      launch(a.root, ["start", "p", "--task", TASK, "--format", "json"], { env: { ...a.env, CODEX_ORCHESTRATOR_HISTORY_URL: away.toString() } }).done)), 30_000, "12 starts without the database")
    const ids = parked.map((result) => started(result))
    expect(fs.readdirSync(path.join(a.root, "out", TASK, "pending-history")).sort()).toEqual(ids.map((id) => `${id}.json`).sort())

    const next = a.run(["start", "p", "--task", TASK, "--format", "json"])
    const nextId = started(next)
    expect(warnings(next.stderr), report(next)).toEqual([])
    expect(fs.readdirSync(path.join(a.root, "out", TASK, "pending-history"))).toEqual([])
    const rows = await query<{ run_id: string; status: string; metrics: number }>(url, `select r.run_id, r.status, count(m.run_id)::int as metrics
      from runs r left join metrics m using (run_id) group by r.run_id, r.status order by r.run_id`)
    expect(rows).toEqual([...ids, nextId].sort().map((run_id) => ({ run_id, status: "succeeded", metrics: 1 })))
  })

  it("its connections killed mid-run: the run exits 0, and after one more command it is recorded once, with one metrics row", async () => {
    const url = await freshDatabase()
    const a = machine("host-a", url)
    const launched = launch(a.root, ["start", "two", "--task", TASK, "--format", "json"], { env: a.env })
    await waitForPid(path.join(a.root, "stage.pid"), { whileRunning: launched })
    // Until one of the run's connections is there to be terminated (it connects beside the run).
    let killed = 0
    while (killed === 0 && launched.exited() === undefined) {
      const rows = await query<{ t: boolean }>(serverUrl(), `select pg_terminate_backend(pid) as t from pg_stat_activity
        where application_name = 'codex-orchestrator' and datname = '${databaseOf(url)}'`)
      killed = rows.filter((row) => row.t).length
      if (killed === 0) await sleep(20)
    }
    expect(killed).toBeGreaterThan(0)
    const result = await within(launched.done, 20_000, "the run whose connections were killed")
    const runId = started(result)

    expect(a.run(["history", "--task", TASK, "--format", "json"]).code).toBe(0)
    expect(await query(url, `select status, completed_at is not null as completed from runs where run_id = '${runId}'`)).toEqual([{ status: "succeeded", completed: true }])
    expect(await query(url, `select status from metrics where run_id = '${runId}'`)).toEqual([{ status: "succeeded" }])
    expect(await query(url, `select count(*)::int as n from runs`)).toEqual([{ n: 1 }])
    expect(fs.readdirSync(path.join(a.root, "out", TASK, "pending-history"))).toEqual([])
  })
})

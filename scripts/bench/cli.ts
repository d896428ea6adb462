// Start-up and per-stage cost of the built CLI (issue targets in docs/BENCHMARKS.md), each subject timed
// right after its baseline in the same round so both see the same machine. Wall time, and the child's
// CPU time (user + sys) from the kernel's accounting of reaped children.
// Usage: npx tsx scripts/bench/cli.ts [--runs N] [--bin dist/bin.cjs] [--json]
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"

const repo = path.resolve(import.meta.dirname, "../..")
const arg = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at > 0 ? process.argv[at + 1] : undefined
}
const bin = path.resolve(arg("--bin") ?? path.join(repo, "dist/bin.cjs"))
const RUNS = Number(arg("--runs") ?? "15")
const json = process.argv.includes("--json")
const node = process.execPath

const root = fs.mkdtempSync(path.join(os.tmpdir(), "codex-bench-cli-"))
const trueStages = (n: number) => Array.from({ length: n }, (_, i) => ({ kind: "command", id: `t${i + 1}`, title: `true ${i + 1}`, command: "true" }))
fs.writeFileSync(
  path.join(root, "codex.orchestrator.json"),
  JSON.stringify({ pipelines: [{ id: "one", title: "One", stages: trueStages(1) }, { id: "fifty", title: "Fifty", stages: trueStages(50) }] })
)

/** Node's own start-up depends on the environment (NODE_EXTRA_CA_CERTS costs tens of ms): both are shown. */
const asSet: NodeJS.ProcessEnv = { ...process.env, CODEX_ORCHESTRATOR_ROOT: root }
delete asSet["CODEX_ORCHESTRATOR_HISTORY_URL"]
const bare: NodeJS.ProcessEnv = { ...asSet }
delete bare["NODE_EXTRA_CA_CERTS"]
const caCerts = process.env["NODE_EXTRA_CA_CERTS"] !== undefined

const childrenCpuMs = (): number => {
  const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? []
  return (Number(fields[13]) + Number(fields[14])) * 10
}

interface Sample {
  readonly wallMs: number
  readonly cpuMs: number
}

const time = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Sample => {
  const cpu = childrenCpuMs()
  const started = performance.now()
  const result = spawnSync(node, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
  const wallMs = performance.now() - started
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  return { wallMs, cpuMs: childrenCpuMs() - cpu }
}

export interface Stats {
  readonly median: number
  readonly p10: number
  readonly p90: number
}

const stats = (samples: ReadonlyArray<number>): Stats => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) }
}

export interface CliRow {
  readonly name: string
  readonly wall: Stats
  readonly cpu: Stats
  readonly baseline: string
  readonly baselineWall: Stats
  readonly baselineCpu: Stats
  /** Per-round ratio subject / baseline (wall); absent where the row is a difference. */
  readonly ratio?: Stats
  /** The same ratio with NODE_EXTRA_CA_CERTS unset, where the machine sets it. */
  readonly ratioBare?: Stats
  readonly target: string
  readonly met: boolean | null
}

/** A fresh task directory for each start, so every sample is the same run; `snapshot` seeds state.json. */
const resetTask = (task: string, snapshot?: string) => {
  fs.rmSync(path.join(root, ".runs", task), { recursive: true, force: true })
  fs.rmSync(path.join(root, "out", task), { recursive: true, force: true })
  if (snapshot === undefined) return
  fs.mkdirSync(path.join(root, "out", task), { recursive: true })
  fs.writeFileSync(path.join(root, "out", task, "state.json"), snapshot)
}
const start = (pipeline: string, task: string, env: NodeJS.ProcessEnv, snapshot?: string) => {
  resetTask(task, snapshot)
  return time([bin, "start", pipeline, "--task", task, "--format", "json"], env)
}

const firstRun = JSON.parse(spawnSync(node, [bin, "start", "one", "--task", "seed", "--format", "json"], { cwd: root, env: asSet, encoding: "utf8" }).stdout) as {
  run_id: string
}
/** A snapshot of 500 runs, each a copy of a real run's entry under its own run id and time. */
const snapshot500 = (() => {
  const state = JSON.parse(fs.readFileSync(path.join(root, "out", "seed", "state.json"), "utf8")) as { runs: Array<{ runId: string; timestamp: string }> }
  const entry = JSON.stringify(state.runs[0]).replaceAll("seed", "long")
  const base = Date.parse("2026-01-01T00:00:00.000Z")
  const runs = Array.from({ length: 500 }, (_, i) => {
    const at = new Date(base + i * 60_000).toISOString()
    const id = `${at.replaceAll(":", "-").replace(".", "-")}-${i.toString(16).padStart(8, "0")}`
    return JSON.parse(entry.replaceAll(state.runs[0]!.runId, id).replaceAll(state.runs[0]!.timestamp, at)) as object
  })
  return JSON.stringify({ taskId: "long", lastRunAt: new Date(base + 499 * 60_000).toISOString(), runs }, null, 2)
})()

/** A PostgreSQL server of our own for the shared-history row, when the machine has one to start. */
const database = (() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "codex-bench-pg-"))
  fs.rmdirSync(dir)
  const started = spawnSync("bash", [path.join(repo, "scripts/postgres.sh"), "start", dir], { encoding: "utf8" })
  return started.status === 0 ? { dir, url: started.stdout.trim() } : undefined
})()
const withDatabase: NodeJS.ProcessEnv = { ...asSet, CODEX_ORCHESTRATOR_HISTORY_URL: database?.url ?? "" }

const floor = path.join(import.meta.dirname, "floor.mjs")
const nodeE0 = (env: NodeJS.ProcessEnv) => time(["-e", "0"], env)
const vsNode = [
  { name: "`--help`", args: ["--help"], ratio: 1.2 },
  { name: "`start --help`", args: ["start", "--help"], ratio: 1.2 },
  { name: "`--version`", args: ["--version"], ratio: 1.2 },
  { name: "`plan fifty --format json`", args: ["plan", "fifty", "--format", "json"], ratio: 1.7 },
  { name: "`status --run RUN --format json`", args: ["status", "--run", firstRun.run_id, "--format", "json"], ratio: 1.7 }
] as const

type Pair = readonly [Sample, Sample]
const pairs = new Map<string, Array<Pair>>()
const keep = (round: number, key: string, pair: Pair) => {
  if (round >= 0) pairs.set(key, [...(pairs.get(key) ?? []), pair])
}
for (let round = -1; round < RUNS; round++) {
  for (const [label, env] of caCerts ? [["", asSet], [" bare", bare]] as const : [["", asSet]] as const) {
    for (const c of vsNode) keep(round, c.name + label, [time([bin, ...c.args], env), nodeE0(env)])
    keep(round, "start one" + label, [start("one", "one", env), nodeE0(env)])
    keep(round, "floor one" + label, [time([floor, "1"], env), nodeE0(env)])
  }
  keep(round, "fifty", [start("fifty", "fifty", asSet), start("one", "one", asSet)])
  keep(round, "floor fifty", [time([floor, "50"], asSet), time([floor, "1"], asSet)])
  keep(round, "snapshot 500", [start("one", "long", asSet, snapshot500), start("one", "none", asSet)])
  if (database !== undefined) keep(round, "database", [start("one", "db", withDatabase), start("one", "nodb", asSet)])
}

const of = (key: string) => pairs.get(key) ?? []
const ratioOf = (key: string) => stats(of(key).map(([s, b]) => s.wallMs / b.wallMs))
const sideBySide = (key: string, name: string, baseline: string, target: string, met: (ratio: Stats) => boolean | null): CliRow => {
  const ratio = ratioOf(key)
  return {
    name,
    wall: stats(of(key).map(([s]) => s.wallMs)),
    cpu: stats(of(key).map(([s]) => s.cpuMs)),
    baseline,
    baselineWall: stats(of(key).map(([, b]) => b.wallMs)),
    baselineCpu: stats(of(key).map(([, b]) => b.cpuMs)),
    ratio,
    ...(caCerts && pairs.has(key + " bare") ? { ratioBare: ratioOf(key + " bare") } : {}),
    target,
    met: met(ratio)
  }
}
const atMost = (limit: number) => (ratio: Stats) => ratio.median <= limit
const marginal = (key: string, field: keyof Sample) => stats(of(key).map(([n50, n1]) => (n50[field] - n1[field]) / 49))

const rows: Array<CliRow> = [
  ...vsNode.map((c) => sideBySide(c.name, c.name, "`node -e 0`", `≤ ${c.ratio}×`, atMost(c.ratio))),
  sideBySide("start one", "`start` of one `true` stage", "`node -e 0`", "≤ 2.5×", atMost(2.5)),
  sideBySide("floor one", "floor: plain Node, one spawn and one manifest write, 1 stage", "`node -e 0`", "", () => null),
  {
    name: "marginal cost of a stage: (50-stage − 1-stage `start`) / 49",
    wall: marginal("fifty", "wallMs"),
    cpu: marginal("fifty", "cpuMs"),
    baseline: "floor: the same for the plain Node loop",
    baselineWall: marginal("floor fifty", "wallMs"),
    baselineCpu: marginal("floor fifty", "cpuMs"),
    target: "≤ 6 ms",
    met: marginal("fifty", "wallMs").median <= 6
  },
  sideBySide("snapshot 500", "`start` of one stage, 500 runs in state.json", "the same, no runs in state.json", "≤ 1.15×", atMost(1.15))
]
if (database !== undefined) {
  const added = stats(of("database").map(([db, none]) => db.wallMs - none.wallMs))
  rows.push({
    ...sideBySide("database", "`start` of one stage, CODEX_ORCHESTRATOR_HISTORY_URL set", "the same, unset", "", () => null),
    name: `\`start\` of one stage, CODEX_ORCHESTRATOR_HISTORY_URL set: adds ${added.median.toFixed(1)} ms (${added.p10.toFixed(1)}–${added.p90.toFixed(1)})`,
    target: "adds ≤ 25 ms",
    met: added.median <= 25
  })
}

fs.rmSync(root, { recursive: true, force: true })
if (database !== undefined) spawnSync("bash", [path.join(repo, "scripts/postgres.sh"), "stop", database.dir], { stdio: "ignore" })

if (json) {
  console.log(JSON.stringify({ section: "cli", runs: RUNS, bin, caCerts, database: database !== undefined, rows }))
} else {
  const ms = (value: number) => `${value.toFixed(1)} ms`
  console.log(`\nCLI start-up and per-stage cost (${RUNS} rounds; medians, p10–p90)\n`)
  console.log("| what | median | p10–p90 | CPU | baseline | baseline median | ratio | without NODE_EXTRA_CA_CERTS | target |")
  console.log("|---|---|---|---|---|---|---|---|---|")
  for (const r of rows) {
    const ratio = r.ratio === undefined ? "" : `${r.ratio.median.toFixed(2)}× (${r.ratio.p10.toFixed(2)}–${r.ratio.p90.toFixed(2)})`
    const verdict = r.met === null ? "" : `${r.target}: ${r.met ? "met" : "MISSED"}`
    console.log(
      `| ${r.name} | ${ms(r.wall.median)} | ${ms(r.wall.p10)}–${ms(r.wall.p90)} | ${ms(r.cpu.median)} | ${r.baseline} | ${ms(r.baselineWall.median)} | ${ratio} | ${
        r.ratioBare === undefined ? "" : `${r.ratioBare.median.toFixed(2)}×`
      } | ${verdict} |`
    )
  }
}

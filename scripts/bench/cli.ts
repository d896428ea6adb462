// Start-up and orchestration overhead of the built CLI, each measured beside its baseline in one run.
// Wall time and the child's CPU time (user + sys, from the kernel's accounting of reaped children).
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

const root = fs.mkdtempSync(path.join(os.tmpdir(), "codex-bench-cli-"))
const trueStages = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ kind: "command", id: `t${i + 1}`, title: `true ${i + 1}`, command: "true" }))
fs.writeFileSync(
  path.join(root, "codex.orchestrator.json"),
  JSON.stringify({ pipelines: [{ id: "one", title: "One", stages: trueStages(1) }, { id: "fifty", title: "Fifty", stages: trueStages(50) }] })
)
const env = { ...process.env, CODEX_ORCHESTRATOR_ROOT: root }

/** user + sys of this process's reaped children, in ms (clock ticks of 10 ms). */
const childrenCpuMs = (): number => {
  const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? []
  return (Number(fields[13]) + Number(fields[14])) * 10
}

interface Sample {
  readonly wallMs: number
  readonly cpuMs: number
}

const time = (command: string, args: ReadonlyArray<string>): Sample => {
  const cpu = childrenCpuMs()
  const started = performance.now()
  const result = spawnSync(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
  const wallMs = performance.now() - started
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`)
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
  readonly baseline: string
  readonly wall: Stats
  readonly cpu: Stats
  readonly baselineWall: Stats
  readonly baselineCpu: Stats
  /** Median of the per-run ratios subject / baseline (wall). */
  readonly ratio: Stats
  readonly targetMs?: number
}

const node = process.execPath
const nodeE0 = () => time(node, ["-e", "0"])
const cli = (...args: ReadonlyArray<string>) => () => time(node, [bin, ...args])
const firstRun = (() => {
  const out = spawnSync(node, [bin, "start", "one", "--task", "bench", "--format", "json"], { cwd: root, env, encoding: "utf8" })
  return (JSON.parse(out.stdout) as { run_id: string }).run_id
})()

const cases: ReadonlyArray<{ name: string; run: () => Sample; targetMs: number }> = [
  { name: "--help", run: cli("--help"), targetMs: 150 },
  { name: "plan --format json", run: cli("plan", "fifty", "--format", "json"), targetMs: 150 },
  { name: "status --run", run: cli("status", "--run", firstRun, "--format", "json"), targetMs: 150 },
  { name: "start (1 stage of true)", run: cli("start", "one", "--task", "bench", "--format", "json"), targetMs: 250 }
]
const start50 = cli("start", "fifty", "--task", "bench", "--format", "json")
const loop50 = () => time("bash", ["-c", "for i in $(seq 50); do bash -c true; done"])

// Every round runs each subject right after its baseline, so both see the same machine load.
const samples = new Map<string, Array<[Sample, Sample]>>()
const perStage: Array<{ wall: number; cpu: number }> = []
const fiftyPairs: Array<[Sample, Sample]> = []
for (let round = -1; round < RUNS; round++) {
  const starts: Array<Sample> = []
  for (const c of cases) {
    const pair: [Sample, Sample] = [c.run(), nodeE0()]
    if (c.name.startsWith("start")) starts.push(pair[0])
    if (round >= 0) samples.set(c.name, [...(samples.get(c.name) ?? []), pair])
  }
  const fifty = start50()
  const loop = loop50()
  if (round < 0) continue
  fiftyPairs.push([fifty, loop])
  const one = starts[0]!
  // 49 more stages than the one-stage start, less what the shell itself pays to start 49 `bash -c true`.
  perStage.push({
    wall: (fifty.wallMs - one.wallMs) / 49 - loop.wallMs / 50,
    cpu: (fifty.cpuMs - one.cpuMs) / 49 - loop.cpuMs / 50
  })
}

const rowOf = (name: string, baseline: string, pairs: ReadonlyArray<[Sample, Sample]>, targetMs?: number): CliRow => ({
  name,
  baseline,
  wall: stats(pairs.map(([s]) => s.wallMs)),
  cpu: stats(pairs.map(([s]) => s.cpuMs)),
  baselineWall: stats(pairs.map(([, b]) => b.wallMs)),
  baselineCpu: stats(pairs.map(([, b]) => b.cpuMs)),
  ratio: stats(pairs.map(([s, b]) => s.wallMs / b.wallMs)),
  ...(targetMs === undefined ? {} : { targetMs })
})

const rows: Array<CliRow> = [
  ...cases.map((c) => rowOf(c.name, "node -e 0", samples.get(c.name) ?? [], c.targetMs)),
  rowOf("start (50 stages of true)", "bash loop of 50 `bash -c true`", fiftyPairs)
]
const overhead = { wall: stats(perStage.map((s) => s.wall)), cpu: stats(perStage.map((s) => s.cpu)), targetMs: 2.5 }
fs.rmSync(root, { recursive: true, force: true })

if (json) {
  console.log(JSON.stringify({ section: "cli", runs: RUNS, bin, rows, perStage: overhead }))
} else {
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`
  const spread = (s: Stats) => `${fmt(s.p10)}–${fmt(s.p90)}`
  console.log(`\nCLI start-up and orchestration (${RUNS} rounds, each subject right after its baseline; medians, p10–p90)`)
  console.log("| what | median | p10–p90 | CPU median | baseline | baseline median | baseline CPU | ratio | target |")
  console.log("|---|---|---|---|---|---|---|---|---|")
  for (const r of rows) {
    const target = r.targetMs === undefined ? "" : `≤ ${r.targetMs} ms ${r.wall.median <= r.targetMs ? "met" : "MISSED"}`
    console.log(
      `| ${r.name} | ${fmt(r.wall.median)} | ${spread(r.wall)} | ${fmt(r.cpu.median)} | ${r.baseline} | ${fmt(r.baselineWall.median)} | ${
        fmt(r.baselineCpu.median)
      } | ${r.ratio.median.toFixed(2)}× | ${target} |`
    )
  }
  console.log(
    `| overhead per stage ((50-stage − 1-stage start) / 49 − loop / 50) | ${fmt(overhead.wall.median)} | ${spread(overhead.wall)} | ${
      fmt(overhead.cpu.median)
    } | | | | | < 2.5 ms ${overhead.wall.median < 2.5 ? "met" : "MISSED"} |`
  )
}

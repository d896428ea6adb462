// Start-up and orchestration overhead of the built CLI, each measured beside its baseline in one run.
// Usage: npx tsx scripts/bench/cli.ts [--runs N]
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"

const repo = path.resolve(import.meta.dirname, "../..")
const bin = path.join(repo, "dist/bin.cjs")
const runsArg = process.argv.indexOf("--runs")
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15

const root = fs.mkdtempSync(path.join(os.tmpdir(), "codex-bench-cli-"))
const trueStages = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ kind: "command", id: `t${i + 1}`, title: `true ${i + 1}`, command: "true" }))
fs.writeFileSync(
  path.join(root, "codex.orchestrator.json"),
  JSON.stringify({ pipelines: [{ id: "one", title: "One", stages: trueStages(1) }, { id: "fifty", title: "Fifty", stages: trueStages(50) }] })
)
const env = { ...process.env, CODEX_ORCHESTRATOR_ROOT: root }

const time = (command: string, args: ReadonlyArray<string>): number => {
  const started = performance.now()
  const result = spawnSync(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
  const elapsed = performance.now() - started
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`)
  return elapsed
}

const stats = (samples: ReadonlyArray<number>) => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) }
}

/** Interleaves the subject and its baseline so both see the same machine load. */
const sideBySide = (subject: () => number, baseline: () => number) => {
  const a: Array<number> = []
  const b: Array<number> = []
  subject()
  baseline()
  for (let i = 0; i < RUNS; i++) {
    a.push(subject())
    b.push(baseline())
  }
  return { subject: stats(a), baseline: stats(b) }
}

const node = process.execPath
const firstRun = (() => {
  const out = spawnSync(node, [bin, "start", "one", "--task", "bench", "--format", "json"], { cwd: root, env, encoding: "utf8" })
  return (JSON.parse(out.stdout) as { run_id: string }).run_id
})()

const rows: Array<[string, ReturnType<typeof sideBySide>, string, number]> = []
const row = (name: string, baselineName: string, subject: () => number, baseline: () => number, target: number) =>
  rows.push([name, sideBySide(subject, baseline), baselineName, target])

const nodeE0 = () => time(node, ["-e", "0"])
row("--help", "node -e 0", () => time(node, [bin, "--help"]), nodeE0, 150)
row("plan --format json", "node -e 0", () => time(node, [bin, "plan", "fifty", "--format", "json"]), nodeE0, 150)
row("status --run", "node -e 0", () => time(node, [bin, "status", "--run", firstRun, "--format", "json"]), nodeE0, 150)
row("start (1 stage of true)", "node -e 0", () => time(node, [bin, "start", "one", "--task", "bench", "--format", "json"]), nodeE0, 250)

const loop50 = () => time("bash", ["-c", "for i in $(seq 50); do bash -c true; done"])
const start50 = () => time(node, [bin, "start", "fifty", "--task", "bench", "--format", "json"])
const fifty = sideBySide(start50, loop50)
const start1 = stats(rows[3]?.[1].subject ? [rows[3][1].subject.median] : [])

const fmt = (ms: number) => `${ms.toFixed(1)} ms`
console.log(`\nCLI start-up and orchestration (${RUNS} runs each, interleaved with the baseline; medians, p10–p90)`)
console.log("| what | median | p10–p90 | baseline | baseline median | ratio | target |")
console.log("|---|---|---|---|---|---|---|")
for (const [name, r, baselineName, target] of rows) {
  console.log(
    `| ${name} | ${fmt(r.subject.median)} | ${fmt(r.subject.p10)}–${fmt(r.subject.p90)} | ${baselineName} | ${fmt(r.baseline.median)} | ${(r.subject.median / r.baseline.median).toFixed(2)}× | ≤ ${target} ms ${r.subject.median <= target ? "met" : "MISSED"} |`
  )
}
const perStage = (fifty.subject.median - start1.median - (fifty.baseline.median - fifty.baseline.median / 50)) / 49
console.log(
  `| start, 50 stages of true | ${fmt(fifty.subject.median)} | ${fmt(fifty.subject.p10)}–${fmt(fifty.subject.p90)} | bash loop of 50 \`bash -c true\` | ${fmt(fifty.baseline.median)} | ${(fifty.subject.median / fifty.baseline.median).toFixed(2)}× | |`
)
console.log(
  `| overhead per stage (50-stage start − 1-stage start − the loop's own per-stage cost) | ${fmt(perStage)} | | | | | ≤ 2.5 ms ${perStage <= 2.5 ? "met" : "MISSED"} |`
)
fs.rmSync(root, { recursive: true, force: true })

/**
 * `npm run bench [-- --quick] [-- --no-build]`: builds the CLI, runs every section under scripts/bench/
 * in its own process (one after the other, so they do not load the machine for each other) and prints
 * one markdown table. Each row is measured side by side with its baseline in the same run; medians and
 * spread are over repeated trials; CPU time (user + sys) stands beside wall time because it is far
 * less sensitive to a busy machine.
 */
import { spawnSync } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import type { CliRow } from "./bench/cli.js"
import type { OutputRow } from "./bench/output.js"
import { PLATFORM_ROW } from "./bench/rows.js"

const repo = path.resolve(import.meta.dirname, "..")
const quick = process.argv.includes("--quick")

interface CliSection {
  readonly runs: number
  readonly caCerts: boolean
  readonly rows: ReadonlyArray<CliRow>
}
interface OutputSection {
  readonly baselinePeakRssMiB: number
  readonly rows: ReadonlyArray<OutputRow>
}
interface PersistenceSection {
  readonly calls: number
  readonly recordRun: ReadonlyArray<{
    readonly snapshotRuns: number
    readonly writers: number
    readonly calls: number
    readonly exhausted: number
    readonly median: number
    readonly p10: number
    readonly p90: number
    readonly holds: number
    readonly holdMedian: number
    readonly holdCpuMedian: number
  }>
  readonly cold: ReadonlyArray<{
    readonly snapshotRuns: number
    readonly trials: number
    readonly holdMedian: number
    readonly holdMin: number
    readonly holdMax: number
    readonly holdCpuMedian: number
  }>
  readonly fsync: ReadonlyArray<{ readonly label: string; readonly plain: number; readonly durable: number }>
}
interface ConcurrencySection {
  readonly trials: ReadonlyArray<{
    readonly n: number
    readonly recorded: number
    readonly parked: number
    readonly lost: number
    readonly failedStarts: number
    readonly lockRetries: number
    readonly wallMs: number
    readonly cpuMs: number
    readonly mergedAfter: boolean
  }>
}

const section = <A>(script: string, args: ReadonlyArray<string>): A => {
  const started = performance.now()
  process.stderr.write(`bench: ${script} ${args.join(" ")} ...`)
  const result = spawnSync(process.execPath, [...process.execArgv, path.join(repo, "scripts/bench", script), "--json", ...args], {
    cwd: repo,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024
  })
  process.stderr.write(` ${((performance.now() - started) / 1000).toFixed(0)} s\n`)
  const line = result.stdout.trim().split("\n").at(-1) ?? ""
  if (result.status !== 0 || !line.startsWith("{")) throw new Error(`${script} failed (exit ${result.status}):\n${result.stderr}`)
  return JSON.parse(line) as A
}

const started = performance.now()
if (!process.argv.includes("--no-build")) {
  const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: repo, stdio: ["ignore", "ignore", "inherit"] })
  if (build.status !== 0) throw new Error("npm run build failed")
}
const cli = section<CliSection>("cli.ts", ["--runs", quick ? "7" : "15"])
const output = section<OutputSection>("output.ts", quick ? ["--quick"] : [])
const persistence = section<PersistenceSection>("persistence.ts", quick ? ["--quick"] : [])
const concurrency = section<ConcurrencySection>("concurrency.ts", ["--n", quick ? "20,100" : "20,50,100,200"])

const ms = (value: number) => `${value.toFixed(1)} ms`
const s = (value: number) => `${value.toFixed(2)} s`
const met = (ok: boolean) => (ok ? "met" : "**MISSED**")
const rows: Array<ReadonlyArray<string>> = []
const row = (...cells: ReadonlyArray<string>) => rows.push(cells)

for (const r of cli.rows) {
  const ratio = r.ratio === undefined ? "" : `${r.ratio.median.toFixed(2)}× (${r.ratio.p10.toFixed(2)}–${r.ratio.p90.toFixed(2)})`
  row(
    r.name,
    ms(r.wall.median),
    `${ms(r.wall.p10)}–${ms(r.wall.p90)}`,
    ms(r.cpu.median),
    `${r.baseline}: ${ms(r.baselineWall.median)} (CPU ${ms(r.baselineCpu.median)})`,
    r.ratioBare === undefined ? ratio : `${ratio}; ${r.ratioBare.median.toFixed(2)}× without NODE_EXTRA_CA_CERTS`,
    r.met === null ? "" : `${r.target}: ${met(r.met)}`
  )
}
for (const r of output.rows) {
  const throughput = r.name === "256MiB"
  row(
    `stdout ${r.name} through a stage (${r.trials} trials)`,
    s(r.seconds.median),
    `${s(r.seconds.min)}–${s(r.seconds.max)}`,
    s(r.cpuSeconds.median),
    `\`CMD \\| tee a > b\`: ${s(r.teeSeconds.median)} (CPU ${s(r.teeCpuSeconds.median)})`,
    `${r.ratio.median.toFixed(2)}× (${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)}); CPU ${r.cpuRatio.median.toFixed(2)}×`,
    throughput ? `≤ 1.8×: ${met(r.ratio.median <= 1.8)}` : ""
  )
}
for (const r of output.rows.filter((r) => r.name === "256MiB" || r.name === "1GiB" || r.name === PLATFORM_ROW)) {
  const mine = r.name !== PLATFORM_ROW
  row(
    `peak RSS growth, ${mine ? `${r.name} of stdout` : r.name}`,
    `${r.rssGrowthMiB.median.toFixed(1)} MiB`,
    `${r.rssGrowthMiB.min.toFixed(1)}–${r.rssGrowthMiB.max.toFixed(1)} MiB`,
    "",
    mine ? `a run printing nothing: ${output.baselinePeakRssMiB.toFixed(1)} MiB` : "its own run printing nothing",
    "",
    mine ? `≤ 40 MiB: ${met(r.rssGrowthMiB.median <= 40)}` : ""
  )
}
const single = persistence.recordRun.filter((r) => r.writers === 1)
for (const r of persistence.recordRun) {
  const base = single.find((b) => b.snapshotRuns === r.snapshotRuns)
  row(
    `recordRun, ${r.writers} concurrent writer${r.writers === 1 ? "" : "s"}, snapshot of ${r.snapshotRuns} runs (${r.calls} calls, ${r.holds} lock holds)`,
    ms(r.median),
    `${ms(r.p10)}–${ms(r.p90)}`,
    `hold ${ms(r.holdMedian)}, CPU ${ms(r.holdCpuMedian)}`,
    r.writers === 1 ? "" : `1 writer: ${ms(base?.median ?? Number.NaN)}`,
    r.writers === 1 ? "" : `${(r.median / (base?.median ?? Number.NaN)).toFixed(2)}×`,
    `lock exhausted: ${r.exhausted}`
  )
}
for (const r of persistence.cold) {
  row(
    `task lock hold of a fresh process's recordRun, snapshot of ${r.snapshotRuns} runs (${r.trials} processes)`,
    ms(r.holdMedian),
    `${ms(r.holdMin)}–${ms(r.holdMax)}`,
    ms(r.holdCpuMedian),
    "",
    "",
    ""
  )
}
for (const n of [...new Set(concurrency.trials.map((t) => t.n))]) {
  const t = concurrency.trials.find((trial) => trial.n === n)
  if (t === undefined) continue
  row(
    `${n} concurrent \`start\` on one task`,
    `${s(t.wallMs / 1000)} wall`,
    "",
    s(t.cpuMs / 1000),
    `recorded directly ${t.recorded}/${n}, parked ${t.parked}, lock retry warnings ${t.lockRetries}`,
    `${(t.recorded / n).toFixed(2)} recorded/N`,
    `lost 0: ${met(t.lost === 0 && t.failedStarts === 0 && t.mergedAfter)}`
  )
}

const firstParked = concurrency.trials.filter((t) => t.parked > 0).map((t) => t.n).sort((a, b) => a - b)[0]
console.log(
  `\n## npm run bench${quick ? " -- --quick" : ""}: ${os.cpus().length} cpus, node ${process.version}, load ${
    os.loadavg().map((l) => l.toFixed(1)).join(" ")
  }, ${((performance.now() - started) / 60000).toFixed(1)} min\n`
)
console.log("| what | median | spread (p10–p90 or min–max) | CPU (user+sys) | baseline, same run | ratio | target |")
console.log("|---|---|---|---|---|---|---|")
for (const cells of rows) console.log(`| ${cells.join(" | ")} |`)
console.log(
  `\nConcurrent starts: ${
    firstParked === undefined
      ? `no snapshot was parked at any N up to ${Math.max(...concurrency.trials.map((t) => t.n))} with the default lock policy`
      : `snapshots start to be parked at N = ${firstParked} with the default lock policy`
  }; fsync of an atomic write: ${persistence.fsync.map((f) => `${f.label} ${ms(f.durable)} (without ${ms(f.plain)})`).join(", ")}.`
)

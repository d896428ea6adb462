/**
 * Output path benchmark: `npx tsx scripts/bench/output.ts [--quick]`.
 *
 * The harness first bundles itself with esbuild, as the CLI is shipped, so the children measure our
 * code rather than a TypeScript loader. Each case runs in its own Node process (so its peak RSS is its
 * own): StageProcess runs the producer with both ndjson logs written to a temp dir, and prints wall
 * time and process.resourceUsage().maxRSS. The reference is the shell writing the same output into two
 * files (`CMD | tee a > b`), measured right before each case, `--repeat` times (median, min–max).
 * CPU time is user + sys of the child and everything it started, far less sensitive to load than wall time.
 *   npx tsx scripts/bench/output.ts [--quick] [--repeat R] [--json]
 */
import { Command } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FileSystem } from "@effect/platform"
import { openNdjsonLog } from "../../src/persistence/NdjsonLog.js"
import { Redactor } from "../../src/domain/Redactor.js"
import { NodeStageSpawner } from "../../src/run/stage/NodeStageSpawner.js"
import { StageProcess } from "../../src/run/stage/StageProcess.js"
import { StageSpawner } from "../../src/run/stage/StageSpawner.js"
import { bundleSelf } from "./bundleSelf.js"
import { PLATFORM_ROW } from "./rows.js"
import { settleDisk } from "./settleDisk.js"

const MiB = 1024 * 1024
const producers = {
  nothing: "true",
  "256MiB": "head -c 192M /dev/zero | base64 -w 0",
  "256MiB-lines": "head -c 192M /dev/zero | base64",
  "1GiB": "head -c 768M /dev/zero | base64 -w 0"
} as const
type ProducerName = keyof typeof producers

/** Which StageSpawner runs the stage: ours (what the CLI uses) or the platform's CommandExecutor. */
type SpawnerName = "node" | "platform"

const stageProcessOn = (spawner: SpawnerName) =>
  spawner === "node"
    ? StageProcess.layer.pipe(Layer.provide(NodeStageSpawner), Layer.provideMerge(NodeContext.layer))
    : StageProcess.layer.pipe(Layer.provide(StageSpawner.fromCommandExecutor), Layer.provideMerge(NodeContext.layer))

const runChild = (producer: ProducerName, secrets: boolean, spawner: SpawnerName) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-output-"))
  const env: Record<string, string> = secrets ? { API_TOKEN: "not-in-the-output-123" } : {}
  const peak = { heapTotal: 0, external: 0, arrayBuffers: 0 }
  const sampler = setInterval(() => {
    const usage = process.memoryUsage()
    peak.heapTotal = Math.max(peak.heapTotal, usage.heapTotal)
    peak.external = Math.max(peak.external, usage.external)
    peak.arrayBuffers = Math.max(peak.arrayBuffers, usage.arrayBuffers)
  }, 20)
  const program = Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const stageLog = yield* openNdjsonLog(fs, path.join(dir, "01-stage.ndjson"))
    const runnerLog = yield* openNdjsonLog(fs, path.join(dir, "runner.ndjson"))
    const stages = yield* StageProcess
    const started = performance.now()
    const outcome = yield* stages.run({
      index: 1,
      command: producers[producer],
      cwd: dir,
      env: { ...process.env, ...env },
      logs: { stageLog, runnerLog },
      redactor: Redactor.build({ env })
    })
    const seconds = (performance.now() - started) / 1000
    const logBytes = statSync(path.join(dir, "runner.ndjson")).size
    const usage = process.resourceUsage()
    console.log(JSON.stringify({
      seconds,
      maxRssKiB: usage.maxRSS,
      stdoutBytes: outcome.stdout.totalBytes,
      logBytes,
      peakMiB: Object.fromEntries(Object.entries(peak).map(([key, bytes]) => [key, Math.round(bytes / MiB)]))
    }))
    clearInterval(sampler)
  }).pipe(
    Effect.scoped,
    Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))),
    Effect.provide(stageProcessOn(spawner))
  )
  NodeRuntime.runMain(program)
}

/**
 * The yardsticks, each in its own process like the orchestrator: a plain Node pipe into two
 * write streams, and the platform's Command stdout as an Effect Stream that only counts the bytes.
 */
const references = {
  "node pipe, two write streams": (command: string, done: (bytes: number) => void) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "bench-ref-"))
    const child = spawn("bash", ["-c", command], { stdio: ["ignore", "pipe", "inherit"] })
    let bytes = 0
    child.stdout.on("data", (chunk: Buffer) => (bytes += chunk.length))
    child.stdout.pipe(createWriteStream(path.join(dir, "a")))
    child.stdout.pipe(createWriteStream(path.join(dir, "b")))
    child.on("close", () => {
      rmSync(dir, { recursive: true, force: true })
      done(bytes)
    })
  },
  "Effect stream, counting only": (command: string, done: (bytes: number) => void) =>
    NodeRuntime.runMain(
      Effect.gen(function* () {
        const process = yield* Command.start(Command.make("bash", "-c", command))
        const bytes = yield* Stream.runFold(process.stdout, 0, (total, chunk) => total + chunk.length)
        yield* process.exitCode
        done(bytes)
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
    )
} as const
type ReferenceName = keyof typeof references

const runReference = (name: ReferenceName, producer: ProducerName) => {
  const started = performance.now()
  references[name](producers[producer], (stdoutBytes) => {
    const seconds = (performance.now() - started) / 1000
    console.log(JSON.stringify({ seconds, maxRssKiB: process.resourceUsage().maxRSS, stdoutBytes, logBytes: 0 }))
  })
}

interface Measured {
  readonly seconds: number
  /** user + sys of the child and the producer it ran. */
  readonly cpuSeconds: number
  readonly maxRssKiB: number
  readonly stdoutBytes: number
  readonly logBytes: number
}

const bundle = (): Promise<string> => bundleSelf(import.meta.url, "output")

/** user + sys of this process's reaped children (and theirs), in seconds; clock ticks of 10 ms. */
const childrenCpuSeconds = (): number => {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? []
  return (Number(fields[13]) + Number(fields[14])) / 100
}

const measureOrchestrator = (
  bundled: string,
  producer: ProducerName,
  secrets: boolean,
  reference?: ReferenceName,
  spawner: SpawnerName = "node"
): Measured => {
  const args = reference === undefined
    ? [bundled, "child", producer, secrets ? "secrets" : "plain", spawner]
    : [bundled, "reference", producer, reference]
  settleDisk()
  const cpu = childrenCpuSeconds()
  const result = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 16 * MiB })
  const cpuSeconds = childrenCpuSeconds() - cpu
  const line = result.stdout.trim().split("\n").at(-1) ?? ""
  if (result.status !== 0 || !line.startsWith("{")) throw new Error(`child failed: ${result.stderr}`)
  return { ...(JSON.parse(line) as Omit<Measured, "cpuSeconds">), cpuSeconds }
}

interface Tee {
  readonly seconds: number
  readonly cpuSeconds: number
}

const measureTee = (producer: ProducerName): Tee => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-tee-"))
  try {
    settleDisk()
    const cpu = childrenCpuSeconds()
    const started = performance.now()
    spawnSync("bash", ["-c", `${producers[producer]} | tee a > b`], { cwd: dir })
    return { seconds: (performance.now() - started) / 1000, cpuSeconds: childrenCpuSeconds() - cpu }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
}

const spread = (values: ReadonlyArray<number>): Spread => {
  const sorted = [...values].sort((a, b) => a - b)
  return { median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN }
}

export interface OutputRow {
  readonly name: string
  readonly trials: number
  readonly teeSeconds: Spread
  readonly teeCpuSeconds: Spread
  readonly seconds: Spread
  readonly cpuSeconds: Spread
  /** Per trial: orchestrator / tee, wall and CPU. */
  readonly ratio: Spread
  readonly cpuRatio: Spread
  readonly peakRssMiB: Spread
  /** Peak RSS over the median peak RSS of a run printing nothing. */
  readonly rssGrowthMiB: Spread
  readonly stdoutMiB: number
  readonly logMiB: number
}

const main = async () => {
  const bundled = await bundle()
  process.once("exit", () => rmSync(path.dirname(bundled), { recursive: true, force: true }))
  const quick = process.argv.includes("--quick")
  const json = process.argv.includes("--json")
  const repeatAt = process.argv.indexOf("--repeat")
  const repeat = repeatAt > 0 ? Number(process.argv[repeatAt + 1]) : quick ? 3 : 5
  const cases: ReadonlyArray<[ProducerName, boolean, number]> = quick
    ? [["256MiB", false, repeat], ["256MiB-lines", false, 1], ["1GiB", false, 1]]
    : [["256MiB", false, repeat], ["256MiB-lines", false, repeat], ["256MiB-lines", true, 1], ["1GiB", false, 3]]
  const nothing = Array.from({ length: 3 }, () => measureOrchestrator(bundled, "nothing", false))
  const baselineKiB = spread(nothing.map((run) => run.maxRssKiB)).median
  const row = (name: string, pairs: ReadonlyArray<readonly [Tee, Measured]>, baseline: number): OutputRow => {
    const runs = pairs.map(([, run]) => run)
    return {
      name,
      trials: pairs.length,
      teeSeconds: spread(pairs.map(([tee]) => tee.seconds)),
      teeCpuSeconds: spread(pairs.map(([tee]) => tee.cpuSeconds)),
      seconds: spread(runs.map((run) => run.seconds)),
      cpuSeconds: spread(runs.map((run) => run.cpuSeconds)),
      ratio: spread(pairs.map(([tee, run]) => run.seconds / tee.seconds)),
      cpuRatio: spread(pairs.map(([tee, run]) => run.cpuSeconds / tee.cpuSeconds)),
      peakRssMiB: spread(runs.map((run) => run.maxRssKiB / 1024)),
      rssGrowthMiB: spread(runs.map((run) => (run.maxRssKiB - baseline) / 1024)),
      stdoutMiB: (runs[0]?.stdoutBytes ?? 0) / MiB,
      logMiB: (runs[0]?.logBytes ?? 0) / MiB
    }
  }
  const rows: Array<OutputRow> = []
  for (const [producer, secrets, trials] of cases) {
    const pairs = Array.from({ length: trials }, () => [measureTee(producer), measureOrchestrator(bundled, producer, secrets)] as const)
    rows.push(row(`${producer}${secrets ? " +masking" : ""}`, pairs, baselineKiB))
  }
  // The yardsticks, each against its own run of `true`.
  for (const reference of Object.keys(references) as Array<ReferenceName>) {
    const own = measureOrchestrator(bundled, "nothing", false, reference).maxRssKiB
    const pairs = Array.from({ length: quick ? 1 : 3 }, () =>
      [measureTee("256MiB"), measureOrchestrator(bundled, "256MiB", false, reference)] as const
    )
    rows.push(row(`256MiB, reference: ${reference}`, pairs, own))
  }
  // Why the CLI does not run stages on the platform's executor (docs/OUTPUT.md): the same stage on it.
  const platformNothing = measureOrchestrator(bundled, "nothing", false, undefined, "platform").maxRssKiB
  const platformPairs = Array.from({ length: quick ? 1 : 3 }, () =>
    [measureTee("256MiB"), measureOrchestrator(bundled, "256MiB", false, undefined, "platform")] as const
  )
  rows.push(row(PLATFORM_ROW, platformPairs, platformNothing))
  if (json) {
    console.log(JSON.stringify({ section: "output", cpus: os.cpus().length, baselinePeakRssMiB: baselineKiB / 1024, rows }))
    return
  }
  const span = (s: Spread, digits = 2) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`
  console.log(`cpus: ${os.cpus().length}, node ${process.version}, baseline peak RSS ${(baselineKiB / 1024).toFixed(1)} MiB; median (min–max)`)
  console.log("| case | trials | tee s | orch s | ratio | CPU tee s | CPU orch s | CPU ratio | peak RSS MiB | growth MiB | stdout MiB | log MiB |")
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|")
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.trials} | ${span(r.teeSeconds)} | ${span(r.seconds)} | ${span(r.ratio)} | ${r.teeCpuSeconds.median.toFixed(2)} | ${
        r.cpuSeconds.median.toFixed(2)
      } | ${r.cpuRatio.median.toFixed(2)} | ${span(r.peakRssMiB, 1)} | ${span(r.rssGrowthMiB, 1)} | ${r.stdoutMiB.toFixed(1)} | ${r.logMiB.toFixed(1)} |`
    )
  }
}

if (process.argv[2] === "child") {
  runChild(process.argv[3] as ProducerName, process.argv[4] === "secrets", process.argv[5] === "platform" ? "platform" : "node")
} else if (process.argv[2] === "reference") {
  runReference(process.argv[4] as ReferenceName, process.argv[3] as ProducerName)
} else {
  await main()
}

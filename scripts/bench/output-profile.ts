/**
 * Side-by-side profile of the output path, less sensitive to machine load than wall time alone:
 *
 *   npx tsx scripts/bench/output-profile.ts [--rounds N] [--producer 256MiB|1GiB|256MiB-lines]
 *     [--secrets] [--save bundle.mjs] [--against old-bundle.mjs] [--cpu-prof dir]
 *
 * Bundles StageProcess with esbuild (as the CLI ships), then runs N interleaved rounds of:
 * `CMD | tee a > b` (its CPU from bash's `times`), the orchestrator running `true`, and the
 * orchestrator running CMD, each in its own process. Per case it prints the median wall time, the
 * median CPU (user+sys of the orchestrator's Node process, without the producer) and peak RSS.
 * `--save` keeps the bundle so a later run can measure it `--against` the current code in the same
 * rounds; `--cpu-prof` writes V8 CPU profiles of the orchestrator runs.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { spawnSync } from "node:child_process"
import { copyFileSync, mkdtempSync, rmSync, statSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FileSystem } from "@effect/platform"
import { openNdjsonLog } from "../../src/persistence/NdjsonLog.js"
import { Redactor } from "../../src/domain/Redactor.js"
import { NodeStageSpawner } from "../../src/run/stage/NodeStageSpawner.js"
import { StageProcess } from "../../src/run/stage/StageProcess.js"
import { bundleSelf } from "./bundleSelf.js"
import { settleDisk } from "./settleDisk.js"

const MiB = 1024 * 1024
const producers: Record<string, string> = {
  nothing: "true",
  "256MiB": "head -c 192M /dev/zero | base64 -w 0",
  "256MiB-lines": "head -c 192M /dev/zero | base64",
  "1GiB": "head -c 768M /dev/zero | base64 -w 0"
}

interface Measured {
  readonly seconds: number
  readonly cpuSeconds: number
  readonly sysSeconds?: number
  readonly maxRssKiB: number
  readonly stdoutBytes: number
  readonly logBytes: number
}

const runChild = (producer: string, secrets: boolean) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-profile-"))
  const env: Record<string, string> = secrets ? { API_TOKEN: "not-in-the-output-123" } : {}
  const program = Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const stageLog = yield* openNdjsonLog(fs, path.join(dir, "01-stage.ndjson"))
    const runnerLog = yield* openNdjsonLog(fs, path.join(dir, "runner.ndjson"))
    const stages = yield* StageProcess
    const started = performance.now()
    const cpuBefore = process.cpuUsage()
    const outcome = yield* stages.run({
      index: 1,
      command: producers[producer]!,
      cwd: dir,
      env: { ...process.env, ...env },
      logs: { stageLog, runnerLog },
      redactor: Redactor.build({ env })
    })
    const cpu = process.cpuUsage(cpuBefore)
    const measured: Measured = {
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      sysSeconds: cpu.system / 1e6,
      maxRssKiB: process.resourceUsage().maxRSS,
      stdoutBytes: outcome.stdout.totalBytes,
      logBytes: statSync(path.join(dir, "runner.ndjson")).size
    }
    console.log(JSON.stringify(measured))
  }).pipe(
    Effect.scoped,
    Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))),
    Effect.provide(StageProcess.layer.pipe(Layer.provide(NodeStageSpawner), Layer.provideMerge(NodeContext.layer)))
  )
  NodeRuntime.runMain(program)
}

const bundle = (): Promise<string> => bundleSelf(import.meta.url, "profile")

const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at === -1 ? undefined : process.argv[at + 1]
}

const measureOrchestrator = (bundled: string, producer: string, secrets: boolean, profileDir?: string): Measured => {
  const flags = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]
  const args = [...flags, bundled, "child", producer, secrets ? "secrets" : "plain"]
  settleDisk()
  const result = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 16 * MiB })
  const line = result.stdout.trim().split("\n").at(-1) ?? ""
  if (result.status !== 0 || !line.startsWith("{")) throw new Error(`child failed: ${result.stderr}`)
  return JSON.parse(line) as Measured
}

/** Wall time of `CMD | tee a > b`, and the CPU of tee alone (the producer's is not ours to count). */
const measureTee = (producer: string): { seconds: number; teeCpuSeconds: number } => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-profile-tee-"))
  try {
    settleDisk()
    const started = performance.now()
    const script = `TIMEFORMAT='%U %S'; { time tee a > b; } 2> tee.time < <(${producers[producer]})`
    spawnSync("bash", ["-c", script], { cwd: dir })
    const seconds = (performance.now() - started) / 1000
    const timed = spawnSync("cat", ["tee.time"], { cwd: dir, encoding: "utf8" }).stdout.trim().split(/\s+/).map(Number)
    return { seconds, teeCpuSeconds: (timed[0] ?? 0) + (timed[1] ?? 0) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const main = async () => {
  const current = await bundle()
  const save = option("--save")
  if (save !== undefined) copyFileSync(current, save)
  process.once("exit", () => rmSync(path.dirname(current), { recursive: true, force: true }))
  const rounds = Number(option("--rounds") ?? "3")
  const producer = option("--producer") ?? "256MiB"
  const secrets = process.argv.includes("--secrets")
  const profileDir = option("--cpu-prof")
  const against = option("--against")
  const builds: ReadonlyArray<[string, string]> = against === undefined ? [["current", current]] : [["current", current], ["against", against]]
  const samples = new Map<string, Array<Measured>>()
  const tee: Array<{ seconds: number; teeCpuSeconds: number }> = []
  const load = os.loadavg()[0]!
  for (let round = 0; round < rounds; round++) {
    tee.push(measureTee(producer))
    for (const [name, file] of builds) {
      for (const [kind, which] of [["nothing", "nothing"], [producer, producer]] as const) {
        const key = `${name} ${kind}`
        const list = samples.get(key) ?? []
        list.push(measureOrchestrator(file, which, which === "nothing" ? false : secrets, which === "nothing" ? undefined : profileDir))
        samples.set(key, list)
      }
    }
  }
  const teeSeconds = median(tee.map((t) => t.seconds))
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${load.toFixed(1)} -> ${os.loadavg()[0]!.toFixed(1)}, ${rounds} rounds, medians`)
  console.log(`tee: wall ${teeSeconds.toFixed(2)} s (${tee.map((t) => t.seconds.toFixed(2)).join(" ")}), tee CPU ${median(tee.map((t) => t.teeCpuSeconds)).toFixed(2)} s`)
  console.log("case                       | wall s | ratio | CPU s (sys) | peak RSS MiB | growth MiB | stdout MiB | log MiB")
  for (const [name] of builds) {
    const baseline = median(samples.get(`${name} nothing`)!.map((m) => m.maxRssKiB))
    for (const kind of ["nothing", producer]) {
      const list = samples.get(`${name} ${kind}`)!
      const wall = median(list.map((m) => m.seconds))
      const rss = median(list.map((m) => m.maxRssKiB))
      console.log(
        [
          `${name} ${kind}${secrets && kind !== "nothing" ? " +masking" : ""}`.padEnd(26),
          wall.toFixed(2).padStart(6),
          (kind === "nothing" ? "" : (wall / teeSeconds).toFixed(2)).padStart(5),
          `${median(list.map((m) => m.cpuSeconds)).toFixed(2)} (${median(list.map((m) => m.sysSeconds ?? Number.NaN)).toFixed(2)})`.padStart(11),
          (rss / 1024).toFixed(1).padStart(12),
          `${((rss - baseline) / 1024).toFixed(1)} (max ${((Math.max(...list.map((m) => m.maxRssKiB)) - baseline) / 1024).toFixed(1)})`.padStart(10),
          (median(list.map((m) => m.stdoutBytes)) / MiB).toFixed(1).padStart(10),
          (median(list.map((m) => m.logBytes)) / MiB).toFixed(1).padStart(7)
        ].join(" | ")
      )
    }
  }
}

if (process.argv[2] === "child") {
  runChild(process.argv[3]!, process.argv[4] === "secrets")
} else {
  await main()
}

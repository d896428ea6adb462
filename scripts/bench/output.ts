/**
 * Output path benchmark: `npx tsx scripts/bench/output.ts [--quick]`.
 *
 * The harness first bundles itself with esbuild, as the CLI is shipped, so the children measure our
 * code rather than a TypeScript loader. Each case runs in its own Node process (so its peak RSS is its
 * own): StageProcess runs the producer with both ndjson logs written to a temp dir, and prints wall
 * time and process.resourceUsage().maxRSS. The reference is the shell writing the same output into two
 * files (`CMD | tee a > b`), measured right before each case.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, statSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { NdjsonLog } from "../../src/run/output/NdjsonLog.js"
import { Redactor } from "../../src/run/output/Redactor.js"
import { StageProcess } from "../../src/run/StageProcess.js"

const MiB = 1024 * 1024
const producers = {
  nothing: "true",
  "256MiB": "head -c 192M /dev/zero | base64 -w 0",
  "256MiB-lines": "head -c 192M /dev/zero | base64",
  "1GiB": "head -c 768M /dev/zero | base64 -w 0"
} as const
type ProducerName = keyof typeof producers

const runChild = (producer: ProducerName, secrets: boolean) => {
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
    const stageLog = yield* NdjsonLog.open(path.join(dir, "01-stage.ndjson"))
    const runnerLog = yield* NdjsonLog.open(path.join(dir, "runner.ndjson"))
    const stages = yield* StageProcess
    const started = performance.now()
    const outcome = yield* stages.run({
      index: 1,
      command: producers[producer],
      cwd: dir,
      env,
      stageLog,
      runnerLog,
      redactor: yield* Redactor.make({ env })
    })
    const seconds = (performance.now() - started) / 1000
    const logBytes = statSync(path.join(dir, "runner.ndjson")).size
    console.log(JSON.stringify({
      seconds,
      maxRssKiB: process.resourceUsage().maxRSS,
      stdoutBytes: outcome.stdout.totalBytes,
      logBytes,
      peakMiB: Object.fromEntries(Object.entries(peak).map(([key, bytes]) => [key, Math.round(bytes / MiB)]))
    }))
    clearInterval(sampler)
  }).pipe(
    Effect.scoped,
    Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))),
    Effect.provide(StageProcess.Live.pipe(Layer.provideMerge(NodeContext.layer)))
  )
  NodeRuntime.runMain(program)
}

interface Measured {
  readonly seconds: number
  readonly maxRssKiB: number
  readonly stdoutBytes: number
  readonly logBytes: number
}

const bundle = async (): Promise<string> => {
  const outfile = path.join(mkdtempSync(path.join(os.tmpdir(), "bench-bundle-")), "output.mjs")
  await build({
    entryPoints: [fileURLToPath(import.meta.url)],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: "warning"
  })
  return outfile
}

const measureOrchestrator = (bundled: string, producer: ProducerName, secrets: boolean): Measured => {
  const args = [bundled, "child", producer, secrets ? "secrets" : "plain"]
  const result = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 16 * MiB })
  const line = result.stdout.trim().split("\n").at(-1) ?? ""
  if (result.status !== 0 || !line.startsWith("{")) throw new Error(`child failed: ${result.stderr}`)
  return JSON.parse(line) as Measured
}

const measureTee = (producer: ProducerName): number => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-tee-"))
  try {
    const started = performance.now()
    spawnSync("bash", ["-c", `${producers[producer]} | tee a > b`], { cwd: dir })
    return (performance.now() - started) / 1000
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const main = async () => {
  const bundled = await bundle()
  process.once("exit", () => rmSync(path.dirname(bundled), { recursive: true, force: true }))
  const quick = process.argv.includes("--quick")
  const cases: ReadonlyArray<[ProducerName, boolean]> = quick
    ? [["nothing", false], ["256MiB", false], ["256MiB-lines", false]]
    : [["nothing", false], ["256MiB", false], ["256MiB-lines", false], ["256MiB-lines", true], ["1GiB", false]]
  const baseline = measureOrchestrator(bundled, "nothing", false)
  console.log(`cpus: ${os.cpus().length}, node ${process.version}, baseline peak RSS ${(baseline.maxRssKiB / 1024).toFixed(1)} MiB`)
  console.log("case                   | tee s | orch s | ratio | peak RSS MiB | growth MiB | stdout MiB | log MiB")
  for (const [producer, secrets] of cases) {
    if (producer === "nothing") continue
    const tee = measureTee(producer)
    const run = measureOrchestrator(bundled, producer, secrets)
    const name = `${producer}${secrets ? " +masking" : ""}`.padEnd(22)
    console.log(
      [
        name,
        tee.toFixed(2).padStart(5),
        run.seconds.toFixed(2).padStart(6),
        (run.seconds / tee).toFixed(2).padStart(5),
        (run.maxRssKiB / 1024).toFixed(1).padStart(12),
        ((run.maxRssKiB - baseline.maxRssKiB) / 1024).toFixed(1).padStart(10),
        (run.stdoutBytes / MiB).toFixed(1).padStart(10),
        (run.logBytes / MiB).toFixed(1).padStart(7)
      ].join(" | ")
    )
  }
}

if (process.argv[2] === "child") {
  runChild(process.argv[3] as ProducerName, process.argv[4] === "secrets")
} else {
  await main()
}

/**
 * recordRun latency on the real disk (not a timed test): median and p99 with 1, 10 and 50 concurrent
 * writers, for snapshots of 10 and 1,000 runs; how long the task lock is held (wall and CPU) per call;
 * plus what fsync costs an atomic write.
 *   npx tsx scripts/bench/persistence.ts [--quick] [--json]
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Effect, Either, Layer, Logger, LogLevel, Schema } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { RunSummary, TaskStateSnapshot, TaskStateSnapshotJson } from "../../src/domain/RunSummary.js"
import { AtomicFile } from "../../src/persistence/AtomicFile.js"
import { Directories } from "../../src/persistence/Directories.js"
import * as Persistence from "../../src/persistence/Persistence.js"
import { LockRetryPolicy } from "../../src/persistence/LockRetryPolicy.js"
import { ProcessInfo } from "../../src/persistence/ProcessInfo.js"
import { TaskLock } from "../../src/persistence/TaskLock.js"
import { TaskStateStore } from "../../src/persistence/TaskStateStore.js"
import { Settings } from "../../src/Settings.js"

const TASK = "bench"
const quick = process.argv.includes("--quick")
const json = process.argv.includes("--json")
const CALLS = quick ? 50 : 100

const summary = (n: number): RunSummary => {
  const timestamp = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString()
  const runId = `${timestamp.replace(/[:.]/g, "-")}-${n.toString(16).padStart(8, "0")}`
  const artifacts = [
    { path: `.runs/${TASK}/cli/${runId}/manifest.json`, description: "CLI run manifest" },
    { path: `.runs/${TASK}/cli/${runId}/runner.ndjson`, description: "Runner log (ndjson)" }
  ]
  return RunSummary.make({
    taskId: TASK,
    runId,
    mode: "mcp",
    plan: { items: [{ id: "diagnostics:build", description: "npm run build", requires_cloud: false }] },
    build: { subtaskId: "diagnostics:build", artifacts, mode: "mcp", runId, success: true, notes: "build: ok" },
    test: { subtaskId: "diagnostics:test", success: true, reports: [{ name: "guardrails", status: "passed" }], runId },
    review: { summary: `Diagnostics pipeline succeeded.\nManifest: ${artifacts[0]!.path}`, decision: { approved: true } },
    timestamp
  })
}

/** The span from a successful acquire to the start of its release, in wall and CPU milliseconds. */
interface Hold {
  readonly wallMs: number
  readonly cpuMs: number
}

const timedLock = (holds: Array<Hold>) =>
  Layer.effect(
    TaskLock,
    Effect.map(TaskLock, (live) => ({
      acquire: (taskId: string) =>
        Effect.tap(live.acquire(taskId), () => {
          const wall = performance.now()
          const cpu = process.cpuUsage()
          // Added after the lock's own release, so it runs first: the release itself is not counted.
          return Effect.addFinalizer(() =>
            Effect.sync(() => {
              const used = process.cpuUsage(cpu)
              holds.push({ wallMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 })
            })
          )
        })
    }))
  ).pipe(Layer.provide(TaskLock.layer))

const stack = (root: string, holds: Array<Hold>) =>
  TaskStateStore.layer.pipe(
    Layer.provide(timedLock(holds)),
    Layer.provideMerge(Persistence.internals),
    Layer.provideMerge(ProcessInfo.layer),
    Layer.provideMerge(LockRetryPolicy.layer()),
    Layer.provideMerge(Settings.layer(Settings.make(root))),
    Layer.provideMerge(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
  )

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN
const fmt = (ms: number) => ms.toFixed(1).padStart(8)

const holds: Array<Hold> = []

const seedSnapshot = (root: string, snapshotRuns: number) => {
  const runs = Array.from({ length: snapshotRuns }, (_, i) => summary(i + 1))
  mkdirSync(join(root, "out", TASK), { recursive: true })
  const seed = TaskStateSnapshot.make({ taskId: TASK, lastRunAt: runs.at(-1)?.timestamp ?? null, runs })
  writeFileSync(join(root, "out", TASK, "state.json"), Schema.encodeSync(TaskStateSnapshotJson)(seed))
  return statSync(join(root, "out", TASK, "state.json")).size
}

/** In a child process: one recordRun, as a CLI run does it, with nothing compiled or cached yet. */
const coldChild = (root: string, n: number) =>
  Effect.gen(function*() {
    yield* (yield* TaskStateStore).recordRun(TASK, summary(n))
    console.log(JSON.stringify(holds[0]))
  }).pipe(Effect.provide(stack(root, holds)))

/** The hold of the first and only recordRun of a fresh process, the case of `start`; sequential, so no waits. */
const benchColdHold = (scratch: string, snapshotRuns: number, trials: number) =>
  Effect.sync(() => {
    const root = mkdtempSync(join(scratch, `cold-${snapshotRuns}-`))
    const bytes = seedSnapshot(root, snapshotRuns)
    const samples: Array<Hold> = []
    for (let i = 0; i < trials; i++) {
      const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, "--cold-child", root, String(snapshotRuns + 1 + i)], {
        encoding: "utf8"
      })
      const line = child.stdout.trim().split("\n").at(-1) ?? ""
      if (child.status !== 0 || !line.startsWith("{")) throw new Error(`cold child failed: ${child.stderr}`)
      samples.push(JSON.parse(line) as Hold)
    }
    const wall = samples.map((s) => s.wallMs).sort((a, b) => a - b)
    const cpu = samples.map((s) => s.cpuMs).sort((a, b) => a - b)
    return {
      snapshotRuns,
      bytes,
      trials,
      holdMedian: percentile(wall, 0.5),
      holdMin: wall[0] ?? NaN,
      holdMax: wall.at(-1) ?? NaN,
      holdCpuMedian: percentile(cpu, 0.5)
    }
  })

const benchRecordRun = (scratch: string, snapshotRuns: number, writers: number) =>
  Effect.gen(function*() {
    const root = mkdtempSync(join(scratch, `s${snapshotRuns}-w${writers}-`))
    const bytes = seedSnapshot(root, snapshotRuns)
    const store = yield* TaskStateStore
    const latencies: Array<number> = []
    let exhausted = 0
    holds.length = 0
    let next = snapshotRuns + 1
    for (let round = 0; round < Math.ceil(CALLS / writers); round++) {
      yield* Effect.forEach(Array.from({ length: writers }, () => next++), (n) =>
        Effect.gen(function*() {
          const start = performance.now()
          const result = yield* Effect.either(store.recordRun(TASK, summary(n)))
          if (Either.isLeft(result)) {
            if (result.left._tag === "TaskStateStoreLockError") exhausted++
            else return yield* result.left
          } else latencies.push(performance.now() - start)
        }), { concurrency: "unbounded", discard: true })
    }
    latencies.sort((a, b) => a - b)
    const holdWall = holds.map((hold) => hold.wallMs).sort((a, b) => a - b)
    const holdCpu = holds.map((hold) => hold.cpuMs).sort((a, b) => a - b)
    return {
      snapshotRuns,
      writers,
      bytes,
      calls: latencies.length + exhausted,
      exhausted,
      median: percentile(latencies, 0.5),
      p10: percentile(latencies, 0.1),
      p90: percentile(latencies, 0.9),
      p99: percentile(latencies, 0.99),
      holds: holds.length,
      holdMedian: percentile(holdWall, 0.5),
      holdP90: percentile(holdWall, 0.9),
      holdCpuMedian: percentile(holdCpu, 0.5)
    }
  }).pipe(Effect.provide(stack(scratch, holds)))

const benchFsync = (scratch: string, label: string, bytes: number) =>
  Effect.gen(function*() {
    const atomic = yield* AtomicFile
    const data = "x".repeat(bytes)
    const result = { plain: NaN, plainP99: NaN, durable: NaN, durableP99: NaN }
    for (const durable of [false, true]) {
      const times: Array<number> = []
      for (let i = 0; i < 50; i++) {
        const start = performance.now()
        yield* atomic.write(join(scratch, "fsync", `${label}.json`), data, { durable })
        times.push(performance.now() - start)
      }
      times.sort((a, b) => a - b)
      if (durable) {
        result.durable = percentile(times, 0.5)
        result.durableP99 = percentile(times, 0.99)
      } else {
        result.plain = percentile(times, 0.5)
        result.plainP99 = percentile(times, 0.99)
      }
    }
    return { label, bytes, ...result }
  }).pipe(Effect.provide(AtomicFile.layer.pipe(
    Layer.provide(Directories.layer),
    Layer.provide(ProcessInfo.layer),
    Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
  )))

const main = Effect.gen(function*() {
  const scratch = mkdtempSync(join(tmpdir(), "persistence-bench-"))
  try {
    const recordRun = []
    for (const snapshotRuns of [10, 1000]) {
      for (const writers of [1, 10, 50]) recordRun.push(yield* benchRecordRun(scratch, snapshotRuns, writers))
    }
    const cold = []
    for (const snapshotRuns of [100, 1000]) cold.push(yield* benchColdHold(scratch, snapshotRuns, quick ? 5 : 11))
    const fsync = []
    for (const [label, bytes] of [[".heartbeat", 25], ["manifest", 4_000], ["state.json (1000 runs)", 1_400_000]] as const) {
      fsync.push({ ...(yield* benchFsync(scratch, label.replace(/[^a-z0-9]/gi, "-"), bytes)), label })
    }
    if (json) {
      console.log(JSON.stringify({ section: "persistence", calls: CALLS, recordRun, cold, fsync }))
      return
    }
    console.log(`recordRun on ${scratch} (${CALLS} calls per row; latency includes lock waits; hold = acquire to release, one hold per batch)`)
    console.log("snapshot runs | bytes     | writers | calls | lock exhausted | median ms |   p99 ms | holds | hold median ms | hold p90 ms | hold CPU ms")
    for (const r of recordRun) {
      console.log(
        `${String(r.snapshotRuns).padStart(13)} | ${String(r.bytes).padStart(9)} | ${String(r.writers).padStart(7)} | ${String(r.calls).padStart(5)} | ${String(r.exhausted).padStart(14)} | ${fmt(r.median)}  | ${fmt(r.p99)} | ${String(r.holds).padStart(5)} | ${fmt(r.holdMedian)} | ${fmt(r.holdP90)} | ${fmt(r.holdCpuMedian)}`
      )
    }
    console.log("\nLock hold of the only recordRun of a fresh process (as in `start`), median (min–max) over sequential processes")
    console.log("snapshot runs | bytes     | processes | hold ms               | hold CPU ms")
    for (const r of cold) {
      console.log(
        `${String(r.snapshotRuns).padStart(13)} | ${String(r.bytes).padStart(9)} | ${String(r.trials).padStart(9)} | ${fmt(r.holdMedian)} (${r.holdMin.toFixed(1)}–${r.holdMax.toFixed(1)}) | ${fmt(r.holdCpuMedian)}`
      )
    }
    console.log("\nAtomicFile.write, median (p99) ms over 50 writes")
    console.log("file                    | bytes   | no fsync        | fsync file + dir")
    for (const r of fsync) {
      console.log(`${r.label.padEnd(23)} | ${String(r.bytes).padStart(7)} | ${fmt(r.plain)} (${r.plainP99.toFixed(1)}) | ${fmt(r.durable)} (${r.durableP99.toFixed(1)})`)
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
})

const coldAt = process.argv.indexOf("--cold-child")
const program = coldAt > 0 ? coldChild(process.argv[coldAt + 1]!, Number(process.argv[coldAt + 2])) : main

Effect.runPromise(program.pipe(Logger.withMinimumLogLevel(LogLevel.Error))).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

/**
 * recordRun latency on the real disk (not a timed test): median and p99 with 1, 10 and 50 concurrent
 * writers, for snapshots of 10 and 1,000 runs; plus what fsync costs an atomic write.
 *   npx tsx scripts/bench/persistence.ts
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Effect, Either, Layer, Logger, LogLevel, Schema } from "effect"
import { mkdtempSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { RunSummary, TaskStateSnapshot, TaskStateSnapshotJson } from "../../src/domain/RunSummary.js"
import { AtomicFile } from "../../src/persistence/AtomicFile.js"
import { LockRetryPolicy } from "../../src/persistence/LockRetryPolicy.js"
import { ProcessInfo } from "../../src/persistence/ProcessInfo.js"
import { TaskLock } from "../../src/persistence/TaskLock.js"
import { TaskStateStore } from "../../src/persistence/TaskStateStore.js"
import { Settings } from "../../src/Settings.js"

const TASK = "bench"
const CALLS = 100

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

const stack = (root: string) =>
  TaskStateStore.Live.pipe(
    Layer.provideMerge(TaskLock.Live),
    Layer.provideMerge(AtomicFile.Live),
    Layer.provideMerge(ProcessInfo.Live),
    Layer.provideMerge(LockRetryPolicy.Default),
    Layer.provideMerge(Settings.layer(Settings.make(root))),
    Layer.provideMerge(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
  )

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN
const fmt = (ms: number) => ms.toFixed(1).padStart(8)

const benchRecordRun = (scratch: string, snapshotRuns: number, writers: number) =>
  Effect.gen(function*() {
    const root = mkdtempSync(join(scratch, `s${snapshotRuns}-w${writers}-`))
    const runs = Array.from({ length: snapshotRuns }, (_, i) => summary(i + 1))
    mkdirSync(join(root, "out", TASK), { recursive: true })
    const seed = TaskStateSnapshot.make({ taskId: TASK, lastRunAt: runs.at(-1)!.timestamp, runs })
    writeFileSync(join(root, "out", TASK, "state.json"), Schema.encodeSync(TaskStateSnapshotJson)(seed))
    const bytes = statSync(join(root, "out", TASK, "state.json")).size
    const store = yield* TaskStateStore
    const latencies: Array<number> = []
    let exhausted = 0
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
    return { snapshotRuns, writers, bytes, calls: latencies.length + exhausted, exhausted, median: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
  }).pipe(Effect.provide(stack(scratch)))

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
  }).pipe(Effect.provide(AtomicFile.Live.pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)))))

const main = Effect.gen(function*() {
  const scratch = mkdtempSync(join(tmpdir(), "persistence-bench-"))
  try {
    console.log(`recordRun on ${scratch} (${CALLS} calls per row; latency includes lock waits)`)
    console.log("snapshot runs | bytes     | writers | calls | lock exhausted | median ms |   p99 ms")
    for (const snapshotRuns of [10, 1000]) {
      for (const writers of [1, 10, 50]) {
        const r = yield* benchRecordRun(scratch, snapshotRuns, writers)
        console.log(
          `${String(r.snapshotRuns).padStart(13)} | ${String(r.bytes).padStart(9)} | ${String(r.writers).padStart(7)} | ${String(r.calls).padStart(5)} | ${String(r.exhausted).padStart(14)} | ${fmt(r.median)}  | ${fmt(r.p99)}`
        )
      }
    }
    console.log("\nAtomicFile.write, median (p99) ms over 50 writes")
    console.log("file                    | bytes   | no fsync        | fsync file + dir")
    for (const [label, bytes] of [[".heartbeat", 25], ["manifest", 4_000], ["state.json (1000 runs)", 1_400_000]] as const) {
      const r = yield* benchFsync(scratch, label.replace(/[^a-z0-9]/gi, "-"), bytes)
      console.log(`${label.padEnd(23)} | ${String(bytes).padStart(7)} | ${fmt(r.plain)} (${r.plainP99.toFixed(1)}) | ${fmt(r.durable)} (${r.durableP99.toFixed(1)})`)
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
})

Effect.runPromise(main.pipe(Logger.withMinimumLogLevel(LogLevel.Error))).catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

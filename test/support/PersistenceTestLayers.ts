import * as Path from "@effect/platform/Path"
import { Effect, Layer, Logger, Option } from "effect"
import { RunSummary } from "../../src/domain/RunSummary.js"
import { AtomicFile } from "../../src/persistence/AtomicFile.js"
import { MetricsRecorder } from "../../src/persistence/MetricsRecorder.js"
import { PersistenceCoordinator } from "../../src/persistence/PersistenceCoordinator.js"
import { RunManifestWriter } from "../../src/persistence/RunManifestWriter.js"
import { LockRetryPolicy, type LockRetryPolicyShape } from "../../src/persistence/LockRetryPolicy.js"
import { ProcessInfo } from "../../src/persistence/ProcessInfo.js"
import { TaskLock } from "../../src/persistence/TaskLock.js"
import { TaskStateStore } from "../../src/persistence/TaskStateStore.js"
import { Settings } from "../../src/Settings.js"
import { MemoryFileSystem } from "./MemoryFileSystem.js"

export const HOST = "test-host"
export const SELF_PID = 4242

/** A process table for lock tests: `alive` pids run on HOST; `startedAt` gives start times (epoch millis). */
export const fakeProcessInfo = (
  options: { readonly alive?: ReadonlyArray<number>; readonly startedAt?: Readonly<Record<number, number>> } = {}
) =>
  Layer.succeed(ProcessInfo, {
    pid: SELF_PID,
    hostname: HOST,
    isAlive: (pid) => Effect.succeed(pid === SELF_PID || (options.alive ?? []).includes(pid)),
    startedAtMillis: (pid) => Effect.succeed(Option.fromNullable(options.startedAt?.[pid]))
  })

export const testSettings = Settings.make("/repo")

/** Every persistence service over an in-memory disk, with the given process table and policy. */
export const memoryPersistence = (
  options: {
    readonly processes?: Layer.Layer<ProcessInfo, never, MemoryFileSystem>
    readonly policy?: LockRetryPolicyShape
  } = {}
) =>
  Layer.mergeAll(PersistenceCoordinator.Live, RunManifestWriter.Live, MetricsRecorder.Live).pipe(
    Layer.provideMerge(TaskStateStore.Live),
    Layer.provideMerge(TaskLock.Live),
    Layer.provideMerge(AtomicFile.Live),
    Layer.provideMerge(options.processes ?? fakeProcessInfo()),
    Layer.provideMerge(LockRetryPolicy.layer(options.policy ?? LockRetryPolicy.defaults)),
    Layer.provideMerge(Settings.layer(testSettings)),
    Layer.provideMerge(MemoryFileSystem.layer),
    Layer.provideMerge(Path.layer)
  )

/** Collects log lines (level and message) so tests can assert what a user would see on stderr. */
export const captureLogs = Effect.sync(() => {
  const lines: Array<{ readonly level: string; readonly message: string }> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push({ level: logLevel.label, message: Array.isArray(message) ? message.join(" ") : String(message) })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
})

/** A minimal valid RunSummary for run `n` of `taskId`, `n` seconds after 2026-01-01. */
export const sampleSummary = (taskId: string, n: number, extra: { readonly approved?: boolean } = {}): RunSummary => {
  const timestamp = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString()
  const runId = `${timestamp.replace(/[:.]/g, "-")}-${n.toString(16).padStart(8, "0")}`
  return RunSummary.make({
    taskId,
    runId,
    mode: "mcp",
    plan: { items: [{ id: "diagnostics:build", description: "build", requires_cloud: false }] },
    build: { subtaskId: "diagnostics:build", artifacts: [], mode: "mcp", runId, success: true },
    test: { subtaskId: "diagnostics:build", success: true, reports: [], runId },
    review: { summary: `run ${n}`, decision: { approved: extra.approved ?? true } },
    timestamp
  })
}

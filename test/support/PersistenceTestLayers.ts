import * as Path from "@effect/platform/Path"
import { Effect, Layer, Logger, Option } from "effect"
import { DEFAULT_LOCK_RETRY, LockRetrySettings } from "../../src/domain/ProjectConfig.js"
import { Redaction, Redactor } from "../../src/domain/Redactor.js"
import { RunSummary } from "../../src/domain/RunSummary.js"
import { LockRetryPolicy } from "../../src/persistence/LockRetryPolicy.js"
import * as Persistence from "../../src/persistence/Persistence.js"
import { ProcessInfo } from "../../src/persistence/ProcessInfo.js"
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
    startedAtMillis: (pid) => Effect.succeed(Option.fromNullable(options.startedAt?.[pid])),
    groupAlive: (pgid) => Effect.succeed((options.alive ?? []).includes(pgid)),
    signalGroup: () => Effect.void
  })

export const testSettings = Settings.make("/repo", { env: {} })

/** A lock retry policy for tests, checked as the config's Schema checks it. */
export const lockPolicy = (settings: Partial<LockRetrySettings> = {}): LockRetrySettings => LockRetrySettings.make(settings)

/**
 * The app's own persistence layer (and the mechanisms under it, for their tests) over an in-memory
 * disk, with the given process table and policy.
 */
export const memoryPersistence = (
  options: {
    readonly processes?: Layer.Layer<ProcessInfo, never, MemoryFileSystem>
    readonly policy?: LockRetrySettings
    readonly redactor?: Redactor
  } = {}
) =>
  Layer.mergeAll(Persistence.layer, Persistence.internals).pipe(
    Layer.provideMerge(options.processes ?? fakeProcessInfo()),
    Layer.provideMerge(LockRetryPolicy.layer(options.policy ?? DEFAULT_LOCK_RETRY)),
    Layer.provideMerge(Layer.succeed(Redaction, options.redactor ?? Redactor.empty)),
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

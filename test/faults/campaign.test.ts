import { afterAll, afterEach, beforeEach, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Schema } from "effect"
import { MetricsLine, MetricsLineJson } from "../../src/domain/Records.js"
import { decodeRunManifest } from "../../src/domain/RunManifest.js"
import { TaskStateSnapshot, TaskStateSnapshotJson } from "../../src/domain/RunSummary.js"
import { type Fault, ROOT, runWithFault } from "../support/FaultHarness.js"
import type { FaultReason, Operation } from "../support/MemoryFileSystem.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { sampleSummary } from "../support/PersistenceTestLayers.js"

/**
 * The fault campaign (issue 6): every kind of write the run makes fails with ENOSPC, EIO and EACCES,
 * once and for good, and the run still ends as docs/FAULTS.md says, with one log line per failure,
 * no good file damaged and nothing escaping as a defect.
 */

const TASK = "t1"
const stage = (id: string, extra: Record<string, unknown> = {}) => ({ kind: "command", id, title: `Stage ${id}`, command: id, ...extra })
const config = {
  pipelines: [{
    id: "faults",
    title: "Fault campaign",
    stages: [stage("hello"), stage("flaky", { allowFailure: true }), stage("spec-guard")]
  }]
}
// `hello` runs long enough for several heartbeat ticks and one heartbeat-forced manifest write (30 s).
const script = {
  hello: { stdout: ["hello\n"], durationMs: 40_000 },
  flaky: { stderr: ["boom\n"], exitCode: 3, durationMs: 1_000 },
  "spec-guard": { stdout: ["spec-guard: 2 passed, 0 failed\n"], durationMs: 1_000 }
}
const argv = ["start", "faults", "--task", TASK, "--format", "json"]

const previousRun = sampleSummary(TASK, 1)
const goodState = Schema.encodeSync(TaskStateSnapshotJson)(
  TaskStateSnapshot.make({ taskId: TASK, lastRunAt: previousRun.timestamp, runs: [previousRun] })
) + "\n"
const goodMetrics = Schema.encodeSync(MetricsLineJson)(MetricsLine.make({
  run_id: previousRun.runId,
  task_id: TASK,
  pipeline_id: "faults",
  status: "succeeded",
  started_at: previousRun.timestamp,
  completed_at: previousRun.timestamp,
  duration_seconds: 1,
  commands_passed: 3,
  commands_failed: 0,
  guardrails_present: true,
  recorded_at: previousRun.timestamp,
  artifact_path: `.runs/${TASK}/cli/${previousRun.runId}`,
  child_runs: 0
})) + "\n"
const seed = { [`out/${TASK}/state.json`]: goodState, [`.runs/${TASK}/metrics.json`]: goodMetrics }

/** The temporary file AtomicFile writes `name` through: `.<name>.<unique>.tmp` beside it. */
const temp = (name: string) => new RegExp(`/\\.${name.replace(/\./g, "\\.")}\\.[^/]*\\.tmp$`)

type Kind = "manifest" | "heartbeat" | "snapshot" | "metrics" | "logs" | "error file" | "summary manifest" | "resume token" | "compat pointer" | "run-summary.json"

/** Where each kind of write is hit, and the words a log line about it must contain. */
const targets: Record<Kind, { readonly fault: (reason: FaultReason) => Omit<Fault, "mode">; readonly names: RegExp }> = {
  // Atomic files fail at their commit point (the rename of the temp file), which covers durable and
  // fast writes alike and proves the temp file is cleaned up.
  manifest: {
    fault: (reason) => ({ operation: "rename", reason, matches: (p) => /\/cli\/[^/]+\//.test(p) && temp("manifest.json").test(p) }),
    names: /manifest\.json/
  },
  heartbeat: { fault: (reason) => ({ operation: "rename", reason, matches: (p) => temp(".heartbeat").test(p) }), names: /\.heartbeat/ },
  snapshot: {
    fault: (reason) => ({ operation: "rename", reason, matches: (p) => p.startsWith(`${ROOT}/out/${TASK}/`) && temp("state.json").test(p) }),
    names: /state\.json/
  },
  // Appended files: permission is refused when the file is opened, a full or failing disk on the write.
  metrics: { fault: (reason) => ({ operation: appendOperation(reason), reason, matches: (p) => p.endsWith("/metrics.json") }), names: /metrics\.json/ },
  logs: { fault: (reason) => ({ operation: appendOperation(reason), reason, matches: (p) => p.endsWith(".ndjson") }), names: /\.ndjson/ },
  "error file": {
    fault: (reason) => ({ operation: "rename", reason, matches: (p) => p.includes("/errors/") && temp("02-flaky.json").test(p) }),
    names: /02-flaky\.json/
  },
  // RUNS/TASK/RUN/manifest.json, the RunSummary copy the persistence coordinator writes beside the snapshot.
  "summary manifest": {
    fault: (reason) => ({ operation: "rename", reason, matches: (p) => /\/\.runs\/t1\/[^/]+\/\.manifest\.json\./.test(p) && !p.includes("/cli/") && !p.includes("/mcp/") }),
    names: /manifest\.json/
  },
  "resume token": { fault: (reason) => ({ operation: "rename", reason, matches: (p) => temp(".resume-token").test(p) }), names: /\.resume-token/ },
  // RUNS/TASK/mcp/RUN/manifest.json, the pointer older tools follow.
  "compat pointer": {
    fault: (reason) => ({ operation: "rename", reason, matches: (p) => p.includes("/mcp/") && temp("manifest.json").test(p) }),
    names: /mcp\/[^/]+\/manifest\.json/
  },
  "run-summary.json": { fault: (reason) => ({ operation: "rename", reason, matches: (p) => temp("run-summary.json").test(p) }), names: /run-summary\.json/ }
}

function appendOperation(reason: FaultReason): Operation {
  return reason === "EACCES" ? "open" : "write"
}

/** What the run must end with (docs/FAULTS.md); `history`: where this run's summary ends up. */
interface Outcome {
  readonly code: number
  /** The run manifest's status on disk; null when no manifest could be written at all. */
  readonly status: "succeeded" | "failed" | "in_progress" | null
  readonly metrics: boolean
  readonly history: "recorded" | "parked" | "none"
  readonly detail?: string
}

const ok: Outcome = { code: 0, status: "succeeded", metrics: true, history: "recorded" }
const expected: Record<Kind, Record<"once" | "always", Outcome>> = {
  manifest: { once: { code: 1, status: null, metrics: false, history: "none" }, always: { code: 1, status: null, metrics: false, history: "none" } },
  heartbeat: { once: ok, always: ok },
  snapshot: { once: { ...ok, history: "parked" }, always: { ...ok, history: "parked" } },
  metrics: { once: ok, always: { ...ok, metrics: false } },
  logs: {
    once: { code: 1, status: "failed", metrics: true, history: "recorded", detail: "stage:hello:error" },
    always: { code: 1, status: "failed", metrics: true, history: "recorded", detail: "stage:hello:error" }
  },
  "error file": { once: ok, always: ok },
  "summary manifest": { once: ok, always: ok },
  "resume token": { once: ok, always: ok },
  "compat pointer": { once: ok, always: ok },
  "run-summary.json": { once: ok, always: ok }
}

interface Case {
  readonly kind: Kind
  readonly reason: FaultReason
  readonly mode: "once" | "always"
  readonly armAfterMillis: number
  readonly expect: Outcome
}

const kinds: ReadonlyArray<Kind> = [
  "manifest",
  "heartbeat",
  "snapshot",
  "metrics",
  "logs",
  "error file",
  "summary manifest",
  "resume token",
  "compat pointer",
  "run-summary.json"
]
const reasons: ReadonlyArray<FaultReason> = ["ENOSPC", "EIO", "EACCES"]
const cases: ReadonlyArray<Case> = [
  ...kinds.flatMap((kind) =>
    reasons.flatMap((reason) =>
      (["once", "always"] as const).map((mode): Case => ({ kind, reason, mode, armAfterMillis: 0, expect: expected[kind][mode] }))
    )
  ),
  // The manifest failing once the run is under way: armed after the heartbeat's 30 s manifest write,
  // so the first write it hits is the update for the end of `hello`, which a later write must carry.
  ...reasons.flatMap((reason) => [
    { kind: "manifest", reason, mode: "once", armAfterMillis: 31_000, expect: ok } satisfies Case,
    { kind: "manifest", reason, mode: "always", armAfterMillis: 31_000, expect: { code: 1, status: "in_progress", metrics: true, history: "recorded" } } satisfies Case
  ])
]

const rejections: Array<unknown> = []
const onRejection = (reason: unknown) => void rejections.push(reason)
beforeEach(() => void process.on("unhandledRejection", onRejection))
afterEach(() => void process.off("unhandledRejection", onRejection))

const table: Array<string> = []
afterAll(() => {
  if (process.env["FAULTS_TABLE"] !== undefined) console.log(table.join("\n"))
})

const parsesAsJson = (text: string) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

describe("fault campaign", () => {
  for (const c of cases) {
    const when = c.armAfterMillis === 0 ? "" : " (armed mid-run)"
    it.effect(`${c.kind} ${c.reason} ${c.mode}${when}: exit ${c.expect.code}, manifest ${c.expect.status ?? "absent"}`, () =>
      Effect.gen(function*() {
        const target = targets[c.kind]
        const run = yield* runWithFault({
          config,
          script,
          argv,
          seed,
          fault: { ...target.fault(c.reason), mode: c.mode },
          armAfterMillis: c.armAfterMillis
        })
        const disk = run.disk

        // Nothing escapes: no defect, no unexpected-failure answer, no fiber dying unseen, no rejection.
        expect(Exit.isSuccess(run.exit), Exit.isFailure(run.exit) ? Cause.pretty(run.exit.cause) : "").toBe(true)
        expect(run.stderr.filter((line) => line.includes("unexpected failure"))).toEqual([])
        expect(run.defects).toEqual([])
        expect(rejections).toEqual([])

        // Each failure the disk reported is told once, naming what failed.
        expect(run.injected).toBeGreaterThan(0)
        const told = [...run.logs, ...run.stderr].filter((line) => line.includes("(injected)"))
        expect(told.length, told.join("\n")).toBe(run.injected)
        for (const line of told) expect(line).toMatch(target.names)

        // The answer and the manifest.
        expect(run.code).toBe(c.expect.code)
        const files = yield* disk.files(ROOT)
        const manifests = files.filter((f) => /\/\.runs\/t1\/cli\/[^/]+\/manifest\.json$/.test(f))
        if (c.expect.status === null) {
          expect(manifests).toEqual([])
          expect(run.stderr).toHaveLength(1)
          expect(run.stderr[0]).toMatch(/^codex-orchestrator: .*manifest\.json/)
        } else {
          expect(manifests).toHaveLength(1)
          const manifest = yield* decodeRunManifest(Option.getOrThrow(yield* disk.readString(manifests[0]!)))
          expect(manifest.status).toBe(c.expect.status)
          if (c.expect.detail !== undefined) expect(manifest.status_detail).toBe(c.expect.detail)
          if (c.expect.status === "succeeded") expect(manifest.commands.map((entry) => entry.status)).toEqual(["succeeded", "skipped", "succeeded"])
          // A run that reached its end answers on stdout; one whose manifest could not be finished says why in one line.
          expect(run.stderr).toHaveLength(c.expect.status === "in_progress" ? 1 : 0)
          if (c.expect.code === 0) expect(JSON.parse(run.stdout)).toMatchObject({ run_id: manifest.run_id, status: "succeeded" })
        }

        // No good file damaged: the earlier run's snapshot entry and metrics line are still there, whole.
        const state = Schema.decodeUnknownSync(TaskStateSnapshotJson)(Option.getOrThrow(yield* disk.readString(`${ROOT}/out/${TASK}/state.json`)))
        expect(state.runs.map((r) => r.runId)).toContain(previousRun.runId)
        const metrics = Option.getOrThrow(yield* disk.readString(`${ROOT}/.runs/${TASK}/metrics.json`))
        expect(metrics.startsWith(goodMetrics)).toBe(true)
        const metricLines = metrics.split("\n").filter((line) => line !== "")
        expect(metricLines.length).toBe(c.expect.metrics ? 2 : 1)

        // Where this run's history went.
        const parked = files.filter((f) => f.startsWith(`${ROOT}/out/${TASK}/pending/`))
        const recorded = state.runs.length === 2
        expect(recorded ? "recorded" : parked.length === 1 ? "parked" : "none").toBe(c.expect.history)

        // Every file is whole: no temp file left, every JSON file and every log line parses.
        expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([])
        for (const file of files) {
          const text = Option.getOrThrow(yield* disk.readString(file))
          if (file.endsWith(".json") && !file.endsWith("metrics.json")) expect(parsesAsJson(text), file).toBe(true)
          if (file.endsWith(".ndjson") || file.endsWith("metrics.json")) {
            for (const line of text.split("\n").filter((l) => l !== "")) expect(parsesAsJson(line), file).toBe(true)
          }
        }
        table.push(`| ${c.kind} | ${c.reason} | ${c.mode}${when} | ${run.code} | ${c.expect.status ?? "absent"} | ${run.injected} | ${told.length} | ${c.expect.history} | ${c.expect.metrics ? "yes" : "no"} |`)
      }).pipe(Effect.provide(MemoryFileSystem.layer)))
  }
})

describe("fault campaign, after the fact", () => {
  it.effect("a summary parked by a failed snapshot is merged by the next run", () =>
    Effect.gen(function*() {
      const first = yield* runWithFault({ config, script, argv, seed, fault: { ...targets.snapshot.fault("ENOSPC"), mode: "once" } })
      expect(first.code).toBe(0)
      expect(yield* first.disk.files(`${ROOT}/out/${TASK}/pending`)).toHaveLength(1)
      const second = yield* runWithFault({ config, script, argv })
      expect(second.code).toBe(0)
      const state = Schema.decodeUnknownSync(TaskStateSnapshotJson)(Option.getOrThrow(yield* second.disk.readString(`${ROOT}/out/${TASK}/state.json`)))
      expect(state.runs).toHaveLength(3)
      expect(yield* second.disk.files(`${ROOT}/out/${TASK}/pending`)).toEqual([])
    }).pipe(Effect.provide(MemoryFileSystem.layer)))

  it.effect("the campaign's detectors see a defect when there is one", () =>
    Effect.gen(function*() {
      const run = yield* runWithFault({
        config,
        argv,
        script: (command) => {
          if (command === "hello") throw new Error("a bug in a stage process")
          return undefined
        }
      })
      // main turns a defect on the run's own path into this line; one in a fiber off that path is logged (defects).
      expect(run.code).toBe(1)
      expect(run.stderr).toEqual([expect.stringMatching(/^codex-orchestrator: unexpected failure: .*a bug in a stage process/)])
    }).pipe(Effect.provide(MemoryFileSystem.layer)))
})

import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RunnerEvent } from "../../src/domain/Records.js"
import { type NdjsonLog, openNdjsonLog } from "../../src/persistence/NdjsonLog.js"
import { Redactor } from "../../src/domain/Redactor.js"
import { NodeStageSpawner } from "../../src/run/stage/NodeStageSpawner.js"
import { StageProcess, type StageRequest } from "../../src/run/stage/StageProcess.js"
import { StageSpawner } from "../../src/run/stage/StageSpawner.js"

/** Both ways of starting stages: the CLI's own, and any platform CommandExecutor (here the Node one). */
const spawners = [
  ["NodeStageSpawner", StageProcess.layer.pipe(Layer.provide(NodeStageSpawner), Layer.provideMerge(NodeContext.layer))],
  [
    "the platform's CommandExecutor",
    StageProcess.layer.pipe(Layer.provide(StageSpawner.fromCommandExecutor), Layer.provideMerge(NodeContext.layer))
  ]
] as const
const decodeEvent = Schema.decodeUnknownSync(Schema.parseJson(RunnerEvent))

const readEvents = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file)
    return text.split("\n").filter((line) => line.length > 0).map((line) => decodeEvent(line))
  })

const outputOf = (events: ReadonlyArray<RunnerEvent>, type: "command:stdout" | "command:stderr") =>
  events.flatMap((event) => (event.type === type ? [event.data] : [])).join("")

/** A killed orphan may stay a zombie where PID 1 does not reap: that counts as stopped. */
const isAlive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return !/^\d+ \(.*\) Z/.test(stat)
  } catch {
    return false
  }
}

/** Runs one command with both logs in a fresh temp dir; returns the outcome and the decoded logs. */
/** A log whose every append first waits: the pipe is read faster than the log is written. */
const slowed = (log: NdjsonLog): NdjsonLog => ({
  ...log,
  appendEncoded: (lines) => Effect.zipRight(Effect.sleep("20 millis"), log.appendEncoded(lines))
})

const runStage = (
  command: string,
  options: { env?: Record<string, string>; timeoutMs?: number; slowLog?: boolean } = {}
) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ directory: os.tmpdir() })
    const stageLogPath = path.join(dir, "01-stage.ndjson")
    const runnerLogPath = path.join(dir, "runner.ndjson")
    const env = options.env ?? {}
    const stageLog = yield* openNdjsonLog(fs, stageLogPath)
    const request: StageRequest = {
      index: 1,
      command,
      cwd: dir,
      env: { ...process.env, ...env },
      timeoutMs: options.timeoutMs,
      logs: { stageLog: options.slowLog ? slowed(stageLog) : stageLog, runnerLog: yield* openNdjsonLog(fs, runnerLogPath) },
      redactor: Redactor.build({ env })
    }
    const stages = yield* StageProcess
    const outcome = yield* stages.run(request)
    return {
      dir,
      outcome,
      stageEvents: yield* readEvents(stageLogPath),
      runnerEvents: yield* readEvents(runnerLogPath)
    }
  })

/** Runs a stage that is expected not to start; the error it failed with. */
const failToStart = (index: number, command: string, cwdIn: (dir: string) => string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = yield* fs.makeTempDirectoryScoped({ directory: os.tmpdir() })
    const log = yield* openNdjsonLog(fs, path.join(dir, "log.ndjson"))
    const stages = yield* StageProcess
    return yield* stages
      .run({ index, command, cwd: cwdIn(dir), env: process.env, logs: { stageLog: log, runnerLog: log }, redactor: Redactor.empty })
      .pipe(Effect.flip)
  })

describe.each(spawners)("StageProcess (real processes) on %s", (_, TestLayer) => {
  it.scopedLive("captures a pipeline's 10 MiB of stdout within bounds and logs every byte", () =>
    Effect.gen(function* () {
      const { outcome, stageEvents, runnerEvents } = yield* runStage("yes | head -c 10M")
      expect(outcome.exitCode).toBe(0)
      expect(outcome.stdout.totalBytes).toBe(10 * 1024 * 1024)
      expect(outcome.stdout.truncated).toBe(true)
      expect(outcome.stdout.droppedBytes).toBe(10 * 1024 * 1024 - 64 * 1024)
      expect(outcome.stdout.head.startsWith("y\ny\n")).toBe(true)
      expect(outputOf(stageEvents, "command:stdout")).toBe("y\n".repeat(5 * 1024 * 1024))
      expect(runnerEvents).toEqual(stageEvents)
      expect(stageEvents[0]).toMatchObject({ type: "command:start", command: "yes | head -c 10M", index: 1 })
      expect(stageEvents.at(-1)).toMatchObject({ type: "command:end", exit_code: 0, index: 1 })
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("pauses the pipe while the logs fall behind, and still logs every byte in order", () =>
    Effect.gen(function* () {
      const line = "0123456789abcdef\n"
      const { outcome, stageEvents, runnerEvents } = yield* runStage("yes 0123456789abcdef | head -c 12M", { slowLog: true })
      expect(outcome.exitCode).toBe(0)
      expect(outcome.stdout.totalBytes).toBe(12 * 1024 * 1024)
      const logged = outputOf(stageEvents, "command:stdout")
      expect(logged.length).toBe(12 * 1024 * 1024)
      expect(logged === line.repeat(Math.ceil(logged.length / line.length)).slice(0, logged.length)).toBe(true)
      expect(runnerEvents).toEqual(stageEvents)
      // Batches, not reads: 12 MiB in at least 6 lines of at most 2 MiB and a read.
      const outputLines = stageEvents.filter((event) => event.type === "command:stdout").length
      expect(outputLines).toBeGreaterThanOrEqual(6)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("ends the stage when the command exits, stopping a grandchild that holds the pipe", () =>
    Effect.gen(function* () {
      const { dir, outcome, stageEvents } = yield* runStage("sleep 30 & echo $! > grandchild.pid; echo parent done")
      const fs = yield* FileSystem.FileSystem
      const pid = Number((yield* fs.readFileString(path.join(dir, "grandchild.pid"))).trim())
      expect(outcome.exitCode).toBe(0)
      expect(outcome.stdout.text).toBe("parent done\n")
      expect(outputOf(stageEvents, "command:stdout")).toBe("parent done\n")
      expect(isAlive(pid)).toBe(false)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("times out a command, stopping its group with SIGTERM", () =>
    Effect.gen(function* () {
      const { outcome, stageEvents } = yield* runStage("echo started; sleep 30", { timeoutMs: 300 })
      expect(outcome).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGTERM" })
      expect(outcome.stdout.text).toBe("started\n")
      expect(stageEvents.at(-1)).toMatchObject({ type: "command:end", exit_code: null, signal: "SIGTERM" })
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("escalates to SIGKILL when the command ignores SIGTERM", () =>
    Effect.gen(function* () {
      // Bounded well under the command's 30 s: an escalation that never comes fails here, not at the test's timeout.
      const { outcome } = yield* runStage("trap '' TERM; sleep 30", { timeoutMs: 200 }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no SIGKILL after the grace") }))
      expect(outcome).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" })
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("stops the whole process group when the running fiber is interrupted", () =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped({ directory: os.tmpdir() })
      const pidFile = path.join(dir, "child.pid")
      const fiber = yield* Effect.fork(Effect.scoped(runStage(`sleep 30 & echo $! > ${pidFile}; wait`)))
      while (!(yield* fs.exists(pidFile)) || (yield* fs.readFileString(pidFile)).trim() === "") {
        yield* Effect.sleep("20 millis")
      }
      const pid = Number((yield* fs.readFileString(pidFile)).trim())
      expect(isAlive(pid)).toBe(true)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(isAlive(pid)).toBe(false)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("masks a secret that reaches the pipe in two pieces", () =>
    Effect.gen(function* () {
      const { outcome, stageEvents } = yield* runStage(
        "printf 'key=supers'; sleep 0.2; printf 'ecret123 end\\n'; printf 'supersecret123' >&2",
        { env: { API_TOKEN: "supersecret123" } }
      )
      const logged = outputOf(stageEvents, "command:stdout")
      expect(logged).toBe("key=*** end\n")
      expect(outputOf(stageEvents, "command:stderr")).toBe("***")
      expect(outcome.stdout.text).toBe("key=*** end\n")
      expect(outcome.stderr.text).toBe("***")
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("reads stdout and stderr together, so a command filling stderr first does not deadlock", () =>
    Effect.gen(function* () {
      const { outcome } = yield* runStage("head -c 2M /dev/zero | tr '\\0' e >&2; head -c 2M /dev/zero | tr '\\0' o")
      expect(outcome.exitCode).toBe(0)
      expect(outcome.stderr.totalBytes).toBe(2 * 1024 * 1024)
      expect(outcome.stdout.totalBytes).toBe(2 * 1024 * 1024)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("writes valid JSON lines whatever bytes the command prints", () =>
    Effect.gen(function* () {
      const { outcome, stageEvents } = yield* runStage("head -c 300000 /dev/urandom; printf '\\0\\xff\\xc3'")
      expect(outcome.stdout.totalBytes).toBe(300003)
      expect(stageEvents.length).toBeGreaterThan(2)
      expect(outputOf(stageEvents, "command:stdout").endsWith("\u0000\ufffd\ufffd")).toBe(true)
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("gives the command an empty stdin, so a command that reads it does not hang", () =>
    Effect.gen(function* () {
      const { outcome } = yield* runStage("cat; echo read-to-end")
      expect(outcome).toMatchObject({ exitCode: 0, timedOut: false })
      expect(outcome.stdout.text).toBe("read-to-end\n")
    }).pipe(Effect.provide(TestLayer)))

  it.scopedLive("refuses a missing working directory with StageSpawnError", () =>
    Effect.gen(function* () {
      const error = yield* failToStart(3, "true", (dir) => path.join(dir, "missing"))
      expect(error._tag).toBe("StageSpawnError")
      expect(error.message).toContain("stage 3 could not start")
    }).pipe(Effect.provide(TestLayer)))
})

describe("NodeStageSpawner", () => {
  it.scopedLive("refuses what Node cannot spawn (a NUL byte in the command) with StageSpawnError, not a defect", () =>
    Effect.gen(function* () {
      const error = yield* failToStart(2, "echo a\u0000b", (dir) => dir)
      expect(error._tag).toBe("StageSpawnError")
      expect(error.message).toContain("stage 2 could not start")
    }).pipe(Effect.provide(spawners[0][1])))
})

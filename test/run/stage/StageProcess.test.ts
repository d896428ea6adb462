import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schema, TestClock } from "effect"
import { PersistenceError } from "../../../src/domain/Errors.js"
import { RunnerEvent, StageErrorFile, StageErrorFileJson } from "../../../src/domain/Records.js"
import type { NdjsonLog } from "../../../src/persistence/NdjsonLog.js"
import { Redactor } from "../../../src/domain/Redactor.js"
import { type StageOutcome, StageProcess } from "../../../src/run/stage/StageProcess.js"
import { errorFileCommand, errorFileDetails, stageSummary, truncationLines } from "../../../src/run/stage/StageReport.js"
import { ScriptedExecutor, type Script } from "../../support/ScriptedExecutor.js"

const decodeEvent = Schema.decodeUnknownSync(Schema.parseJson(RunnerEvent))

/** An NdjsonLog in memory: the lines as written, decoded back through the schema. */
const memoryLog = () => {
  let text = ""
  const log: NdjsonLog = {
    path: "memory.ndjson",
    appendEncoded: (lines) => Effect.sync(() => {
      text += Buffer.from(lines).toString("utf8")
    })
  }
  const events = () => text.split("\n").filter((line) => line.length > 0).map((line) => decodeEvent(line))
  return { log, events }
}

const setup = (script: Script, options: { env?: Record<string, string>; timeoutMs?: number; command?: string } = {}) =>
  Effect.gen(function* () {
    const { executor, calls } = ScriptedExecutor.make(script)
    const stages = yield* StageProcess.pipe(
      Effect.provide(ScriptedExecutor.stageProcessOn(executor))
    )
    const stage = memoryLog()
    const runner = memoryLog()
    const env = options.env ?? {}
    const run = stages.run({
      index: 2,
      command: options.command ?? "cmd",
      cwd: "/repo",
      env,
      timeoutMs: options.timeoutMs,
      logs: { stageLog: stage.log, runnerLog: runner.log },
      redactor: Redactor.build({ env })
    })
    return { run, calls, stage, runner }
  })

const output = (events: ReadonlyArray<RunnerEvent>, type: "command:stdout" | "command:stderr") =>
  events.flatMap((event) => (event.type === type ? [event.data] : [])).join("")

describe("StageProcess.run (scripted commands)", () => {
  it.effect("logs start, output and end to both logs and returns the captured streams", () =>
    Effect.gen(function* () {
      const { run, calls, stage, runner } = yield* setup({
        cmd: { stdout: ["hello ", "world\n"], stderr: ["warn\n"], exitCode: 3, durationMs: 50 }
      })
      const fiber = yield* Effect.fork(run)
      yield* TestClock.adjust("50 millis")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ exitCode: 3, signal: null, timedOut: false })
      expect(outcome.stdout).toMatchObject({ text: "hello world\n", totalBytes: 12, droppedBytes: 0, truncated: false })
      expect(outcome.stderr.text).toBe("warn\n")
      const events = stage.events()
      expect(events[0]).toEqual({ type: "command:start", command: "cmd", timestamp: "1970-01-01T00:00:00.000Z", index: 2 })
      expect(events.at(-1)).toEqual({ type: "command:end", exit_code: 3, timestamp: "1970-01-01T00:00:00.050Z", index: 2 })
      expect(output(events, "command:stdout")).toBe("hello world\n")
      expect(output(events, "command:stderr")).toBe("warn\n")
      expect(runner.events()).toEqual(events)
      expect(calls[0]).toMatchObject({ command: "cmd", cwd: "/repo", signals: [] })
    }))

  it.effect("times out: SIGTERM to the group, exit code null, timedOut", () =>
    Effect.gen(function* () {
      const { run, calls, stage } = yield* setup({ cmd: { stdout: ["working\n"], durationMs: 60_000 } }, { timeoutMs: 1_000 })
      const fiber = yield* Effect.fork(run)
      yield* TestClock.adjust("1 second")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ exitCode: null, signal: "SIGTERM", timedOut: true })
      expect(calls[0]!.signals).toEqual(["SIGTERM"])
      expect(stage.events().at(-1)).toMatchObject({ type: "command:end", exit_code: null, signal: "SIGTERM" })
      expect(stageSummary(outcome, undefined)).toBe("Timed out")
    }))

  it.effect("escalates to SIGKILL after the grace period when SIGTERM is ignored", () =>
    Effect.gen(function* () {
      const { run, calls } = yield* setup({ cmd: { durationMs: 60_000, ignoresSigterm: true } }, { timeoutMs: 1_000 })
      const fiber = yield* Effect.fork(run)
      yield* TestClock.adjust("1 second")
      expect(calls[0]!.signals).toEqual(["SIGTERM"])
      yield* TestClock.adjust("2 seconds")
      const outcome = yield* Fiber.join(fiber)
      expect(calls[0]!.signals).toEqual(["SIGTERM", "SIGKILL"])
      expect(outcome).toMatchObject({ exitCode: null, signal: "SIGKILL", timedOut: true })
    }))

  it.effect("ends the stage after the command exits even when a grandchild holds the pipe", () =>
    Effect.gen(function* () {
      const { run, calls } = yield* setup({ cmd: { stdout: ["done\n"], durationMs: 10, holdsPipeMs: Infinity } })
      const fiber = yield* Effect.fork(run)
      yield* TestClock.adjust("10 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome).toMatchObject({ exitCode: 0, signal: null, timedOut: false })
      expect(outcome.stdout.text).toBe("done\n")
      expect(calls[0]!.signals).toEqual(["SIGTERM"])
    }))

  it.effect("reads output that is still in flight within the grace period without killing anything", () =>
    Effect.gen(function* () {
      const { run, calls } = yield* setup({ cmd: { stdout: ["late\n"], durationMs: 10, holdsPipeMs: 300 } })
      const fiber = yield* Effect.fork(run)
      yield* TestClock.adjust("310 millis")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome.stdout.text).toBe("late\n")
      expect(calls[0]!.signals).toEqual([])
    }))

  it.effect("stops the process group when the fiber is interrupted, and the interruption propagates", () =>
    Effect.gen(function* () {
      const { run, calls, stage } = yield* setup({ cmd: { durationMs: 60_000 } })
      const fiber = yield* Effect.fork(run)
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(calls[0]!.signals).toEqual(["SIGTERM"])
      expect(stage.events().at(-1)).toMatchObject({ type: "command:end", exit_code: null, signal: "SIGTERM" })
    }))

  it.effect("writes output already read, masked, before command:end when the fiber is interrupted", () =>
    Effect.gen(function* () {
      const { run, stage, runner } = yield* setup(
        { cmd: { stdout: ["building ", "token=s3cr3t-value"], stderr: [Uint8Array.of(...Buffer.from("warn: ca"), 0xc3)], durationMs: 60_000 } },
        { env: { API_TOKEN: "s3cr3t-value" } }
      )
      const fiber = yield* Effect.fork(run)
      // Read, but short of a batch and not yet due (FLUSH_DELAY): only the interruption writes it.
      yield* TestClock.adjust("10 millis")
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      const events = stage.events()
      expect(output(events, "command:stdout")).toBe("building token=***")
      expect(output(events, "command:stderr")).toBe("warn: ca\ufffd")
      expect(events.at(-1)).toMatchObject({ type: "command:end", signal: "SIGTERM" })
      expect(runner.events()).toEqual(events)
    }))

  it.effect("writes bytes read but not yet due when the fiber is interrupted", () =>
    Effect.gen(function* () {
      const { run, stage } = yield* setup({ cmd: { stdout: ["half a line"], durationMs: 60_000 } })
      const fiber = yield* Effect.fork(run)
      yield* TestClock.adjust("10 millis")
      yield* Fiber.interrupt(fiber)
      expect(output(stage.events(), "command:stdout")).toBe("half a line")
      expect(stage.events().at(-1)).toMatchObject({ type: "command:end" })
    }))

  it.effect("fails with StageSpawnError when the command cannot start", () =>
    Effect.gen(function* () {
      const { run } = yield* setup({ cmd: { spawnError: "NotFound" } })
      const error = yield* Effect.flip(run)
      expect(error._tag).toBe("StageSpawnError")
      expect(error.message).toMatch(/^stage 2 could not start: /)
      expect(error.message).not.toContain("\n")
    }))

  it.effect("masks a secret split across chunks in logs, captures and the logged command", () =>
    Effect.gen(function* () {
      const { run, stage } = yield* setup(
        { "echo $DEPLOY_TOKEN abcdef123": { stdout: ["token=abc", "def123 ok\n"], stderr: ["abcd", "ef12", "3"] } },
        { env: { DEPLOY_TOKEN: "abcdef123" }, command: "echo $DEPLOY_TOKEN abcdef123" }
      )
      const outcome = yield* run
      const events = stage.events()
      expect(events[0]).toMatchObject({ type: "command:start", command: "echo $DEPLOY_TOKEN ***" })
      expect(output(events, "command:stdout")).toBe("token=*** ok\n")
      expect(output(events, "command:stderr")).toBe("***")
      expect(outcome.stdout.text).toBe("token=*** ok\n")
      expect(outcome.stdout.totalBytes).toBe(19)
      expect(JSON.stringify(events)).not.toContain("abcdef123")
    }))

  it.effect("fails with the PersistenceError of a log write and stops the command", () =>
    Effect.gen(function* () {
      const { executor, calls } = ScriptedExecutor.make({ cmd: { stdout: ["out\n"], durationMs: 60_000 } })
      const stages = yield* StageProcess.pipe(
        Effect.provide(ScriptedExecutor.stageProcessOn(executor))
      )
      const ok = memoryLog()
      let appends = 0
      const failing: NdjsonLog = {
        ...ok.log,
        appendEncoded: (lines) =>
          ++appends === 1
            ? ok.log.appendEncoded(lines)
            : Effect.fail(new PersistenceError({ operation: "append to", path: "runner.ndjson", reason: "Unknown", message: "disk full" }))
      }
      const fiber = yield* Effect.fork(
        stages.run({
          index: 1,
          command: "cmd",
          cwd: "/repo",
          env: {},
          logs: { stageLog: ok.log, runnerLog: failing },
          redactor: Redactor.empty
        })
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error._tag).toBe("PersistenceError")
      expect(calls[0]!.signals).toEqual(["SIGTERM"])
    }))

  it.effect("never splits a UTF-8 character that arrives in pieces", () =>
    Effect.gen(function* () {
      const { run, stage } = yield* setup({ cmd: { stdout: ["caf", Uint8Array.of(0xc3), Uint8Array.of(0xa9, 0x0a, 0xff)] } })
      const outcome = yield* run
      expect(output(stage.events(), "command:stdout")).toBe("café\n\ufffd")
      expect(outcome.stdout.text).toBe("café\n\ufffd")
    }))

  it.effect("keeps 64 KiB of a long stream with exact counts, and logs every byte", () =>
    Effect.gen(function* () {
      const line = "x".repeat(1023) + "\n"
      const { run, stage } = yield* setup({ cmd: { stdout: Array.from({ length: 200 }, () => line) } })
      const outcome = yield* run
      expect(outcome.stdout).toMatchObject({ totalBytes: 200 * 1024, droppedBytes: 136 * 1024, truncated: true })
      expect(outcome.stdout.text).toContain("…")
      expect(output(stage.events(), "command:stdout").length).toBe(200 * 1024)
    }))
})

const captured = (text: string, totalBytes = Buffer.byteLength(text)) => ({
  text,
  head: text,
  tail: "",
  totalBytes,
  droppedBytes: 0,
  truncated: false
})

const outcomeOf = (overrides: Partial<StageOutcome>): StageOutcome => ({
  exitCode: 0,
  signal: null,
  timedOut: false,
  cancelledBy: null,
  stdout: captured(""),
  stderr: captured(""),
  ...overrides
})

describe("stage summaries and error files", () => {
  it("summarises by hint, else failure and stderr, else stdout, in at most 240 characters", () => {
    expect(stageSummary(outcomeOf({ stdout: captured("all good\nnext") }), "Built it")).toBe("Built it")
    expect(stageSummary(outcomeOf({ stdout: captured("all good\nnext") }), undefined)).toBe("all good next")
    expect(stageSummary(outcomeOf({ exitCode: 2, stderr: captured("boom\n") }), undefined)).toBe("Exited with code 2 — boom")
    expect(stageSummary(outcomeOf({ exitCode: null, signal: "SIGKILL" }), undefined)).toBe("Killed by SIGKILL")
    expect(Array.from(stageSummary(outcomeOf({ stdout: captured("é".repeat(500)) }), undefined))).toHaveLength(240)
  })

  it("keeps at most 8 KiB of stderr, start and mostly end, and the file stays under 10 KB", () => {
    const head = "START " + "\u0001\"".repeat(2000)
    const tail = "\u0002".repeat(30_000) + " THE ERROR"
    const outcome = outcomeOf({
      exitCode: 1,
      stderr: { text: `${head}…${tail}`, head, tail, totalBytes: 900_000, droppedBytes: 800_000, truncated: true },
      stdout: { ...captured("out"), totalBytes: 70_000, droppedBytes: 6_000, truncated: true }
    })
    const details = errorFileDetails(outcome)
    expect(details).toMatchObject({
      exit_code: 1,
      stderr_truncated: true,
      stdout_truncated: true,
      stdout_bytes: 70_000,
      stderr_bytes: 900_000
    })
    expect(details.stderr.startsWith("START ")).toBe(true)
    expect(details.stderr.endsWith(" THE ERROR")).toBe(true)
    expect(details.stderr).toContain("…")
    expect(Buffer.byteLength(JSON.stringify(details.stderr))).toBeLessThanOrEqual(8 * 1024 + 2)
    const file = Schema.encodeSync(StageErrorFileJson)(
      StageErrorFile.make({
        run_id: "2025-10-31T22-56-34-431Z-9574035c",
        task_id: "0101",
        command_index: 1,
        command_id: "build",
        command: "npm run build",
        reason: "command-failed",
        details,
        created_at: "2025-10-31T22:56:40.000Z"
      })
    )
    expect(Buffer.byteLength(file)).toBeLessThan(10_000)
  })

  it("keeps a short stderr whole", () => {
    const details = errorFileDetails(outcomeOf({ exitCode: 1, stderr: captured("oops\n") }))
    expect(details).toEqual({
      exit_code: 1,
      stderr: "oops\n",
      stderr_truncated: false,
      stdout_truncated: false,
      stdout_bytes: 0,
      stderr_bytes: 5
    })
  })

  it("reports a line per truncated stream with the bytes dropped", () => {
    const outcome = outcomeOf({ stdout: { ...captured("x"), totalBytes: 100_000, droppedBytes: 34_464, truncated: true } })
    expect(truncationLines("build", outcome)).toEqual(["Stage build: stdout truncated, 34464 bytes dropped of 100000."])
    expect(truncationLines("build", outcomeOf({}))).toEqual([])
  })

  it("cuts a stderr of 8–64 KiB kept whole in memory, and says so", () => {
    const text = "e".repeat(20 * 1024)
    const details = errorFileDetails(outcomeOf({ exitCode: 1, stderr: captured(text) }))
    expect(details.stderr_truncated).toBe(true)
    expect(details.stderr).toContain("…")
    expect(Buffer.byteLength(JSON.stringify(details.stderr))).toBeLessThanOrEqual(8 * 1024 + 2)
  })

  it("keeps the start and end of a long command in the error file, within 1 KiB", () => {
    const command = `: ${"A".repeat(10_000)}${"B".repeat(10_000)}; exit 1`
    const kept = errorFileCommand(command)
    expect(kept.startsWith(": AAAA")).toBe(true)
    expect(kept.endsWith("; exit 1")).toBe(true)
    expect(kept).toContain("…")
    expect(Buffer.byteLength(JSON.stringify(kept))).toBeLessThanOrEqual(1024 + 2)
    expect(errorFileCommand("npm test")).toBe("npm test")
  })
})

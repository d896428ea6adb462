import type { StageErrorFile } from "../../domain/Records.js"
import { ELLIPSIS } from "./StageOutput.js"
import type { StageOutcome } from "./StageProcess.js"

const SUMMARY_LIMIT = 240

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim()

const clip = (text: string, limit: number): string => {
  const chars = Array.from(text)
  return chars.length <= limit ? text : chars.slice(0, limit - 1).join("") + ELLIPSIS
}

/** CONTRACT §5: the hint, else why it failed with the start of stderr, else the start of stdout. */
export const stageSummary = (outcome: StageOutcome, summaryHint: string | undefined): string => {
  if (summaryHint !== undefined && summaryHint.length > 0) return clip(summaryHint, SUMMARY_LIMIT)
  const failed = outcome.timedOut || outcome.exitCode !== 0
  if (!failed) return clip(oneLine(outcome.stdout.head), SUMMARY_LIMIT)
  const why = outcome.timedOut
    ? "Timed out"
    : outcome.exitCode === null
    ? `Killed by ${outcome.signal ?? "a signal"}`
    : `Exited with code ${outcome.exitCode}`
  const stderr = oneLine(outcome.stderr.head)
  return clip(stderr.length > 0 ? `${why} — ${stderr}` : why, SUMMARY_LIMIT)
}

/** Bytes a text takes once written as a JSON string, quotes left out: JSON.stringify is the one escaper here. */
const jsonBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text), "utf8") - 2

const fitting = (text: string, budget: number, from: "start" | "end"): string => {
  const chars = Array.from(text)
  const take = (n: number) => (from === "start" ? chars.slice(0, n) : chars.slice(chars.length - n)).join("")
  let low = 0
  let high = chars.length
  while (low < high) {
    const mid = Math.ceil((low + high) / 2)
    if (jsonBytes(take(mid)) <= budget) low = mid
    else high = mid - 1
  }
  return take(low)
}

/** Most of the room goes to the end (from `tail` when the middle was dropped). */
const startAndEnd = (text: string, tail: string | null, budget: number, startBudget: number): string => {
  const head = fitting(text, startBudget, "start")
  return head + ELLIPSIS + fitting(tail ?? text.slice(head.length), budget - jsonBytes(head) - jsonBytes(ELLIPSIS), "end")
}

/** Room for stderr in an error file, counted in bytes as written (escapes included). */
export const ERROR_FILE_STDERR_BYTES = 8 * 1024
const ERROR_FILE_STDERR_START_BYTES = 1024
/** Room for the command, so the file stays under 10 KB whatever the command (CONTRACT §5). */
export const ERROR_FILE_COMMAND_BYTES = 1024
const ERROR_FILE_COMMAND_START_BYTES = 256

export const errorFileCommand = (command: string): string =>
  jsonBytes(command) <= ERROR_FILE_COMMAND_BYTES
    ? command
    : startAndEnd(command, null, ERROR_FILE_COMMAND_BYTES, ERROR_FILE_COMMAND_START_BYTES)

/** The error file's `details` (CONTRACT §5): at most 8 KiB of stderr, its start and mostly its end. */
export const errorFileDetails = (outcome: StageOutcome): StageErrorFile["details"] => {
  const { stderr, stdout } = outcome
  const fits = !stderr.truncated && jsonBytes(stderr.text) <= ERROR_FILE_STDERR_BYTES
  return {
    exit_code: outcome.exitCode,
    stderr: fits
      ? stderr.text
      : startAndEnd(stderr.head, stderr.truncated ? stderr.tail : null, ERROR_FILE_STDERR_BYTES, ERROR_FILE_STDERR_START_BYTES),
    stderr_truncated: !fits,
    stdout_truncated: stdout.truncated,
    stdout_bytes: stdout.totalBytes,
    stderr_bytes: stderr.totalBytes,
    ...(outcome.signal === null ? {} : { signal: outcome.signal }),
    ...(outcome.timedOut ? { timed_out: true } : {})
  }
}

export const truncationLines = (stageId: string, outcome: StageOutcome): ReadonlyArray<string> =>
  (["stdout", "stderr"] as const).flatMap((name) => {
    const stream = outcome[name]
    return stream.truncated ? [`Stage ${stageId}: ${name} truncated, ${stream.droppedBytes} bytes dropped of ${stream.totalBytes}.`] : []
  })

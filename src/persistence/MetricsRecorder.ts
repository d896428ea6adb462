import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { MetricsLine, MetricsLineJson } from "../domain/Records.js"
import { Redaction } from "../domain/Redactor.js"
import { type TaskPaths, taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { Directories } from "./Directories.js"
import { recoverNotFound, toPersistenceError } from "./PlatformFailure.js"

export interface MetricsRecorderShape {
  /** Durable and safe beside other appenders (CONTRACT §7); the last attempt's error is the caller's to report. */
  readonly append: (taskId: string, line: MetricsLine) => Effect.Effect<void, PersistenceError>
  /** Every line that decodes; a line torn by a crash is skipped with a warning. */
  readonly read: (taskId: string) => Effect.Effect<ReadonlyArray<MetricsLine>, PersistenceError>
}

const encodeValue = Schema.encodeSync(MetricsLine)
const decodeLine = Schema.decodeUnknownEither(MetricsLineJson)
const NEWLINE = 0x0a

/** A transient disk error must not cost a run its only metrics line: 3 attempts, 50 then 100 ms apart. */
export const APPEND_ATTEMPTS = 3
const APPEND_RETRY = Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(APPEND_ATTEMPTS - 1)))

export class MetricsRecorder extends Context.Tag("codex-orchestrator/MetricsRecorder")<MetricsRecorder, MetricsRecorderShape>() {
  static readonly layer: Layer.Layer<MetricsRecorder, never, FileSystem.FileSystem | Settings | Directories | Redaction> = Layer.effect(
    MetricsRecorder,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const settings = yield* Settings
      const directories = yield* Directories
      const redactor = yield* Redaction

      // `progress.written` survives failed attempts: a line written whole is never written again (that
      // would be a second line for one outcome), only its fsync is retried.
      const appendOnce = (paths: TaskPaths, text: string, progress: { written: boolean }) =>
        Effect.gen(function*() {
          yield* directories.ensure(paths.taskRunsDir)
          yield* Effect.scoped(
            Effect.gen(function*() {
              // O_APPEND makes each write land whole at the end, whoever else is appending.
              const file = yield* fs.open(paths.metrics, { flag: "a+" })
              if (!progress.written) {
                const size = Number((yield* file.stat).size)
                let startsFresh = true
                if (size > 0) {
                  yield* file.seek(size - 1, "start")
                  const last = yield* file.readAlloc(1)
                  startsFresh = Option.match(last, { onNone: () => true, onSome: (bytes) => bytes[0] === NEWLINE })
                }
                // A crash, or a failed attempt, can leave a torn last line; starting on a fresh line keeps ours readable.
                yield* file.writeAll(new TextEncoder().encode(`${startsFresh ? "" : "\n"}${text}\n`))
                progress.written = true
              }
              yield* file.sync
            })
          ).pipe(Effect.mapError(toPersistenceError("append", paths.metrics)))
        })

      const append = Effect.fn("MetricsRecorder.append")(function*(taskId: string, line: MetricsLine) {
        const paths = taskPaths(settings, taskId)
        const text = JSON.stringify(redactor.maskJson(encodeValue(line)))
        const progress = { written: false }
        let attempt = 0
        yield* appendOnce(paths, text, progress).pipe(
          Effect.tapError((error) => {
            attempt++
            return attempt < APPEND_ATTEMPTS
              ? Effect.logWarning(`${error.message} (attempt ${attempt} of ${APPEND_ATTEMPTS}, trying again)`)
              : Effect.void
          }),
          Effect.retry(APPEND_RETRY)
        )
      })

      const read = Effect.fn("MetricsRecorder.read")(function*(taskId: string) {
        const file = taskPaths(settings, taskId).metrics
        const text = yield* recoverNotFound(fs.readFileString(file), () => "").pipe(Effect.mapError(toPersistenceError("read", file)))
        const lines: Array<MetricsLine> = []
        for (const [index, raw] of text.split("\n").entries()) {
          if (raw.trim() === "") continue
          const decoded = decodeLine(raw)
          if (Either.isRight(decoded)) lines.push(decoded.right)
          else yield* Effect.logWarning(`${file}: skipped line ${index + 1}, which does not parse (torn by a crash?)`)
        }
        return lines
      })

      return { append, read }
    })
  )
}

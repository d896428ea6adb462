import * as FileSystem from "@effect/platform/FileSystem"
import { Clock, Context, Duration, Effect, Either, Layer, Option, Schedule, Schema } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { StageProcessRecord, StageProcessRecordJson } from "../domain/Records.js"
import { isoAt } from "../domain/Timestamp.js"
import type { RunPaths } from "../Layout.js"
import { AtomicFile } from "./AtomicFile.js"
import { recoverNotFound, toPersistenceError } from "./PlatformFailure.js"
import { ProcessInfo } from "./ProcessInfo.js"

export interface Leftover {
  readonly stage_id: string
  readonly pgid: number
}

export interface StageProcessesShape {
  readonly record: (paths: RunPaths, stage: { readonly index: number; readonly id: string; readonly pid: number }) => Effect.Effect<void, PersistenceError>
  readonly clear: (paths: RunPaths) => Effect.Effect<void, PersistenceError>
  /** On this host and still alive, never a reused pid's group. */
  readonly leftover: (paths: RunPaths) => Effect.Effect<Option.Option<Leftover>>
  /** Done once the group is gone and the record removed. */
  readonly stopLeftover: (paths: RunPaths, grace: Duration.Duration) => Effect.Effect<Option.Option<Leftover>, PersistenceError>
}

const decode = Schema.decodeUnknownEither(StageProcessRecordJson)
const encode = Schema.encodeSync(StageProcessRecordJson)
/** /proc start times are derived from a boot time in whole seconds. */
const START_TIME_SLACK_MS = 1000
const GONE_POLL = Schedule.spaced(Duration.millis(50))

export class StageProcesses extends Context.Tag("codex-orchestrator/StageProcesses")<StageProcesses, StageProcessesShape>() {
  static readonly layer: Layer.Layer<StageProcesses, never, FileSystem.FileSystem | AtomicFile | ProcessInfo> = Layer.effect(
    StageProcesses,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const atomic = yield* AtomicFile
      const processes = yield* ProcessInfo

      const record: StageProcessesShape["record"] = (paths, stage) =>
        Effect.gen(function*() {
          const started = yield* processes.startedAtMillis(stage.pid)
          const entry = StageProcessRecord.make({
            stage_index: stage.index,
            stage_id: stage.id,
            pid: stage.pid,
            pgid: stage.pid,
            host: processes.hostname,
            started_at_ms: Option.getOrNull(started),
            recorded_at: isoAt(yield* Clock.currentTimeMillis)
          })
          yield* atomic.write(paths.stageProcess, encode(entry))
        })

      const clear = (paths: RunPaths) =>
        fs.remove(paths.stageProcess, { force: true }).pipe(Effect.mapError(toPersistenceError("remove", paths.stageProcess)))

      // The leader alive with its recorded start time, or gone while its group lives on: a pid that leads
      // or names a live group is never handed out again, so either way the group is the stage's.
      const leftover = (paths: RunPaths) =>
        Effect.gen(function*() {
          const text = yield* recoverNotFound(fs.readFileString(paths.stageProcess), () => "").pipe(Effect.orElseSucceed(() => ""))
          const found = decode(text)
          if (Either.isLeft(found) || found.right.host !== processes.hostname) return Option.none<Leftover>()
          const { pid, pgid, started_at_ms: recorded, stage_id } = found.right
          if (yield* processes.isAlive(pid)) {
            const started = yield* processes.startedAtMillis(pid)
            const reused = recorded !== null && Option.isSome(started) && Math.abs(started.value - recorded) > START_TIME_SLACK_MS
            if (reused) return Option.none<Leftover>()
          }
          return (yield* processes.groupAlive(pgid)) ? Option.some({ stage_id, pgid }) : Option.none<Leftover>()
        })

      const untilGone = (pgid: number, within: Duration.Duration) =>
        processes.groupAlive(pgid).pipe(
          Effect.repeat({ schedule: GONE_POLL, until: (alive) => !alive }),
          Effect.timeoutOption(within)
        )

      const stopLeftover = (paths: RunPaths, grace: Duration.Duration) =>
        Effect.gen(function*() {
          const found = yield* leftover(paths)
          if (Option.isSome(found)) {
            const { pgid, stage_id } = found.value
            yield* Effect.logWarning(`stage ${stage_id} of this run was still running (process group ${pgid}); stopping it first`)
            yield* processes.signalGroup(pgid, "SIGTERM")
            if (Option.isNone(yield* untilGone(pgid, grace))) {
              yield* processes.signalGroup(pgid, "SIGKILL")
              yield* untilGone(pgid, Duration.seconds(1))
            }
          }
          yield* clear(paths)
          return found
        })

      return { record, clear, leftover, stopLeftover }
    })
  )
}

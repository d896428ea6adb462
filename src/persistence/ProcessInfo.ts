import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, Layer, Option } from "effect"
import * as os from "node:os"

export interface ProcessInfoShape {
  readonly pid: number
  readonly hostname: string
  readonly isAlive: (pid: number) => Effect.Effect<boolean>
  /** Where the platform tells; a reused pid then shows a later start. */
  readonly startedAtMillis: (pid: number) => Effect.Effect<Option.Option<number>>
  readonly groupAlive: (pgid: number) => Effect.Effect<boolean>
  /** A group already gone is not an error. */
  readonly signalGroup: (pgid: number, signal: "SIGTERM" | "SIGKILL") => Effect.Effect<void>
}

/** kill(2) of a pid or, negated, a process group: true when it exists (EPERM: it exists, someone else's). */
const probe = (target: number, signal: NodeJS.Signals | 0): boolean => {
  try {
    process.kill(target, signal)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Linux reports process start in clock ticks since boot; USER_HZ is 100 on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100

/** Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces, so count from its closing ")". */
export const parseStartTicks = (stat: string): Option.Option<number> => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return Option.filter(Option.fromNullable(fields[22 - 3]).pipe(Option.map(Number)), Number.isFinite)
}

export const parseBootTimeSeconds = (stat: string): Option.Option<number> =>
  Option.fromNullable(/^btime (\d+)$/m.exec(stat)?.[1]).pipe(Option.map(Number))

export class ProcessInfo extends Context.Tag("codex-orchestrator/ProcessInfo")<ProcessInfo, ProcessInfoShape>() {
  static readonly layer: Layer.Layer<ProcessInfo, never, FileSystem.FileSystem> = Layer.effect(
    ProcessInfo,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      // Read when first asked: most commands never are.
      const bootTime = yield* Effect.cached(fs.readFileString("/proc/stat").pipe(
        Effect.map(parseBootTimeSeconds),
        Effect.orElseSucceed(() => Option.none<number>())
      ))
      const isAlive = (pid: number) => Effect.sync(() => probe(pid, 0))
      const startedAtMillis = (pid: number) =>
        Effect.flatMap(bootTime, Option.match({
          onNone: () => Effect.succeed(Option.none<number>()),
          onSome: (boot) =>
            fs.readFileString(`/proc/${pid}/stat`).pipe(
              Effect.map((stat) =>
                Option.map(parseStartTicks(stat), (ticks) => boot * 1000 + (ticks * 1000) / CLOCK_TICKS_PER_SECOND)
              ),
              Effect.orElseSucceed(() => Option.none<number>())
            )
        }))
      return {
        pid: process.pid,
        hostname: os.hostname(),
        isAlive,
        startedAtMillis,
        groupAlive: (pgid) => Effect.sync(() => pgid > 1 && probe(-pgid, 0)),
        signalGroup: (pgid, signal) => Effect.sync(() => void (pgid > 1 && probe(-pgid, signal)))
      }
    })
  )
}

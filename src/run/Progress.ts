import { Clock, Context, Duration, Effect, Layer, Schedule, type Scope } from "effect"
import { Redaction } from "../domain/Redactor.js"
import { stripTerminalControls } from "../domain/TerminalText.js"

export interface StageProgress {
  readonly index: number
  readonly total: number
  readonly id: string
  readonly title: string
}

/** Progress of a run on stderr; stdout is kept for the command's answer. */
export interface ProgressShape {
  readonly runStarted: (runId: string, pipelineId: string) => Effect.Effect<void>
  /** While the scope is open. */
  readonly stageRunning: (stage: StageProgress, outputBytes: Effect.Effect<number>) => Effect.Effect<void, never, Scope.Scope>
  readonly stageFinished: (stage: StageProgress, status: string, elapsedMillis: number) => Effect.Effect<void>
  readonly runFinished: (runId: string, status: string) => Effect.Effect<void>
  readonly note: (text: string) => Effect.Effect<void>
}

/** Without a terminal, a stage still running says so this often, so a CI log never looks hung. */
export const QUIET_STAGE_NOTICE = Duration.seconds(30)
const REDRAW = Duration.millis(250)

const seconds = (millis: number) => `${(millis / 1000).toFixed(1)}s`

/** `1m30s`, `2h0m5s`, `45s`. */
export const elapsedText = (millis: number): string => {
  const total = Math.floor(millis / 1000)
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60]
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`
}

export const sizeText = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

// Lines per stage start and end, as CI logs want; on a terminal the running stage's line is redrawn in
// place instead.
export const makeProgress = (options: {
  readonly tty: boolean
  readonly write: (text: string) => Effect.Effect<void>
  readonly clean?: (text: string) => string
}): ProgressShape => {
  const { tty, write } = options
  const clean = options.clean ?? ((text: string) => text)
  const line = (s: StageProgress) => `[${s.index}/${s.total}] ${clean(s.title)}`
  const ticker = (every: Duration.Duration, draw: (elapsed: number) => Effect.Effect<void>) =>
    Effect.gen(function*() {
      const started = yield* Clock.currentTimeMillis
      const tick = Effect.flatMap(Clock.currentTimeMillis, (now) => draw(now - started))
      yield* Effect.forkScoped(Effect.schedule(tick, Schedule.spaced(every)))
    })
  return {
    runStarted: (runId, pipelineId) => write(`run ${runId} (${pipelineId}) started\n`),
    stageRunning: (s, outputBytes) =>
      tty
        ? Effect.zipRight(
          write(`\r\x1b[2K${line(s)} running 0.0s`),
          ticker(REDRAW, (elapsed) => write(`\r\x1b[2K${line(s)} running ${seconds(elapsed)}`))
        )
        : Effect.zipRight(
          write(`${line(s)} (${clean(s.id)}) started\n`),
          ticker(QUIET_STAGE_NOTICE, (elapsed) =>
            Effect.flatMap(outputBytes, (bytes) => write(`${clean(s.id)}: running for ${elapsedText(elapsed)}, ${sizeText(bytes)} of output so far\n`)))
        ),
    stageFinished: (s, status, elapsed) =>
      write(`${tty ? "\r\x1b[2K" : ""}${line(s)}${tty ? "" : ` (${clean(s.id)})`} ${status} in ${seconds(elapsed)}\n`),
    runFinished: (runId, status) => write(`run ${runId} ${status}\n`),
    note: (text) => write(`${text.split("\n").map(clean).join("\n")}\n`)
  }
}

const silent: ProgressShape = {
  runStarted: () => Effect.void,
  stageRunning: () => Effect.void,
  stageFinished: () => Effect.void,
  runFinished: () => Effect.void,
  note: () => Effect.void
}

export class Progress extends Context.Tag("codex-orchestrator/Progress")<Progress, ProgressShape>() {
  /** On this process's stderr; titles and ids come from the config, so they are masked and made inert. */
  static readonly layer: Layer.Layer<Progress, never, Redaction> = Layer.effect(
    Progress,
    Effect.map(Redaction, (redactor) =>
      makeProgress({
        tty: process.stderr.isTTY === true,
        write: (text) => Effect.sync(() => void process.stderr.write(text)),
        clean: (text) => stripTerminalControls(redactor.mask(text))
      }))
  )
  static readonly silent: Layer.Layer<Progress> = Layer.succeed(Progress, silent)
}

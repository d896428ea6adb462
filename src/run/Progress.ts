import { Context, Effect, Layer } from "effect"

export interface StageProgress {
  readonly index: number
  readonly total: number
  readonly id: string
  readonly title: string
}

/** Progress of a run on stderr; stdout is kept for the command's answer. */
export interface ProgressShape {
  readonly runStarted: (runId: string, pipelineId: string) => Effect.Effect<void>
  readonly stageStarted: (stage: StageProgress) => Effect.Effect<void>
  readonly stageFinished: (stage: StageProgress, status: string, elapsedMillis: number) => Effect.Effect<void>
  readonly runFinished: (runId: string, status: string) => Effect.Effect<void>
}

const seconds = (millis: number) => `${(millis / 1000).toFixed(1)}s`

const write = (text: string) => Effect.sync(() => void process.stderr.write(text))

/** One plain line per stage start and end: what CI logs want. */
const plain: ProgressShape = {
  runStarted: (runId, pipelineId) => write(`run ${runId} (${pipelineId}) started\n`),
  stageStarted: (s) => write(`[${s.index}/${s.total}] ${s.title} (${s.id}) started\n`),
  stageFinished: (s, status, elapsed) => write(`[${s.index}/${s.total}] ${s.title} (${s.id}) ${status} in ${seconds(elapsed)}\n`),
  runFinished: (runId, status) => write(`run ${runId} ${status}\n`)
}

/** On a terminal, the current stage's line is redrawn in place with its elapsed time. */
const live = (): ProgressShape => {
  let timer: ReturnType<typeof setInterval> | undefined
  const stop = () => {
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
  }
  return {
    runStarted: plain.runStarted,
    stageStarted: (s) =>
      Effect.sync(() => {
        stop()
        const started = performance.now()
        const draw = () =>
          process.stderr.write(`\r\x1b[2K[${s.index}/${s.total}] ${s.title} running ${seconds(performance.now() - started)}`)
        draw()
        timer = setInterval(draw, 250)
        timer.unref()
      }),
    stageFinished: (s, status, elapsed) =>
      Effect.sync(() => {
        stop()
        process.stderr.write(`\r\x1b[2K[${s.index}/${s.total}] ${s.title} ${status} in ${seconds(elapsed)}\n`)
      }),
    runFinished: (runId, status) => Effect.zipRight(Effect.sync(stop), plain.runFinished(runId, status))
  }
}

const silent: ProgressShape = {
  runStarted: () => Effect.void,
  stageStarted: () => Effect.void,
  stageFinished: () => Effect.void,
  runFinished: () => Effect.void
}

export class Progress extends Context.Tag("codex-orchestrator/Progress")<Progress, ProgressShape>() {
  static readonly Live: Layer.Layer<Progress> = Layer.sync(Progress, () => (process.stderr.isTTY ? live() : plain))
  static readonly Silent: Layer.Layer<Progress> = Layer.succeed(Progress, silent)
}

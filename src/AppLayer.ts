import type { FileSystem } from "@effect/platform/FileSystem"
import type { Path } from "@effect/platform/Path"
import type { Terminal } from "@effect/platform/Terminal"
import { Effect, Layer, Option } from "effect"
import { DEFAULT_LOCK_RETRY } from "./domain/ProjectConfig.js"
import { Redaction, Redactor, secretValues, urlSecrets } from "./domain/Redactor.js"
import { ExitCode } from "./ExitCode.js"
import { LockRetryPolicy } from "./persistence/LockRetryPolicy.js"
import { ProcessInfo } from "./persistence/ProcessInfo.js"
import { Project } from "./Project.js"
import { stageEnvironments } from "./run/Pipelines.js"
import type { Progress } from "./run/Progress.js"
import type { Shutdown } from "./run/Shutdown.js"
import { Settings } from "./Settings.js"

export type Platform = FileSystem | Path | Terminal

/** What every command has: the edges, the project's config, its one masker. */
export type Base = Platform | Settings | Shutdown | Progress | Project | Redaction | LockRetryPolicy | ProcessInfo | ExitCode

/** Built once per process from the inherited environment, every stage env and the config's patterns. */
const redaction: Layer.Layer<Redaction, never, Settings | Project> = Layer.effect(
  Redaction,
  Effect.gen(function*() {
    const settings = yield* Settings
    const config = yield* Effect.option((yield* Project).config)
    const stageSecrets = Option.match(config, { onNone: () => [], onSome: (c) => stageEnvironments(c).flatMap(secretValues) })
    return Redactor.build({
      env: settings.env,
      literals: [...stageSecrets, ...Option.match(settings.historyUrl, { onNone: () => [], onSome: urlSecrets })],
      patterns: Option.match(config, { onNone: () => [], onSome: (c) => c.redact })
    })
  })
)

/** The project's lock retry policy; the default while the config cannot be used (the command fails on it anyway). */
const lockRetry: Layer.Layer<LockRetryPolicy, never, Project> = Layer.effect(
  LockRetryPolicy,
  Effect.map(Effect.flatMap(Project, (project) => Effect.option(project.config)), (config) =>
    Option.match(config, { onNone: () => DEFAULT_LOCK_RETRY, onSome: (c) => c.persistence.lockRetry }))
)

/** The one composition root: the base over a platform (real or in-memory) and the edges the caller chooses. */
export const baseLayer = <E>(options: {
  readonly platform: Layer.Layer<Platform, E>
  readonly settings: Layer.Layer<Settings>
  readonly shutdown: Layer.Layer<Shutdown>
  readonly progress: Layer.Layer<Progress, never, Redaction>
  readonly processes?: Layer.Layer<ProcessInfo, never, FileSystem>
}): Layer.Layer<Base, E> => {
  const edges = Layer.mergeAll(options.platform, options.settings, options.shutdown)
  const project = Layer.mergeAll(redaction, lockRetry).pipe(Layer.provideMerge(Project.layer))
  return Layer.mergeAll(options.progress, ExitCode.layer, options.processes ?? ProcessInfo.layer).pipe(
    Layer.provideMerge(project),
    Layer.provideMerge(edges)
  )
}

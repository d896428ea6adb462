import { FileSystem } from "@effect/platform"
import { Context, Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import { ConfigError } from "../domain/Errors.js"
import { CommandStage, Pipeline, ProjectConfig, ProjectConfigJson } from "../domain/ProjectConfig.js"
import { strictParse } from "../domain/RunManifest.js"
import { LockRetryPolicy } from "../persistence/LockRetryPolicy.js"
import { Settings } from "../Settings.js"

export const DIAGNOSTICS: Pipeline = Pipeline.make({
  id: "diagnostics",
  title: "Diagnostics",
  description: "Build, lint, test and the spec guard, each as its own stage.",
  stages: [
    CommandStage.make({ kind: "command", id: "build", title: "Build", command: "npm run build" }),
    CommandStage.make({ kind: "command", id: "lint", title: "Lint", command: "npm run lint" }),
    CommandStage.make({ kind: "command", id: "test", title: "Test", command: "npm run test" }),
    CommandStage.make({
      kind: "command",
      id: "spec-guard",
      title: "Spec guard",
      command: "bash scripts/spec-guard.sh --dry-run"
    })
  ]
})

export interface ResolvedPipeline {
  readonly pipeline: Pipeline
  readonly source: "default" | "user"
}

export interface PipelinesShape {
  /** The project's config; a file that cannot be used fails every run before anything is written. */
  readonly config: Effect.Effect<ProjectConfig, ConfigError>
  /** The named pipeline, else the config's `defaultPipeline`, else `diagnostics`; refused when unknown or cyclic. */
  readonly resolve: (id: string | undefined) => Effect.Effect<ResolvedPipeline, ConfigError>
}

/** The pipelines a run may use: the built-in `diagnostics` and those of `codex.orchestrator.json`. */
export class Pipelines extends Context.Tag("codex-orchestrator/Pipelines")<Pipelines, PipelinesShape>() {
  static readonly fromConfig = (config: ProjectConfig, file: string): PipelinesShape => {
    const user = new Map((config.pipelines ?? []).map((p) => [p.id, p] as const))
    const lookup = (id: string): ResolvedPipeline | undefined => {
      const own = user.get(id)
      if (own !== undefined) return { pipeline: own, source: "user" }
      return id === DIAGNOSTICS.id ? { pipeline: DIAGNOSTICS, source: "default" } : undefined
    }
    const known = () => [...new Set([DIAGNOSTICS.id, ...user.keys()])].join(", ")

    const checkTree = (root: string): ConfigError | undefined => {
      const visit = (id: string, trail: ReadonlyArray<string>): ConfigError | undefined => {
        if (trail.includes(id)) {
          return new ConfigError({ file, message: `${file}: sub-pipeline cycle ${[...trail, id].join(" → ")}` })
        }
        const found = lookup(id)
        if (found === undefined) {
          const where = trail.length === 0 ? "" : ` (sub-pipeline of ${trail[trail.length - 1]})`
          return new ConfigError({ file, message: `unknown pipeline '${id}'${where}; known: ${known()}` })
        }
        for (const stage of found.pipeline.stages) {
          if (stage.kind === "subpipeline") {
            const problem = visit(stage.pipeline, [...trail, id])
            if (problem !== undefined) return problem
          }
        }
        return undefined
      }
      return visit(root, [])
    }

    const policy = LockRetryPolicy.fromSettings(config.persistence?.lockRetry)
    return {
      config: Either.match(policy, {
        onLeft: (message) => Effect.fail(new ConfigError({ file, message: `${file}: ${message}` })),
        onRight: () => Effect.succeed(config)
      }),
      resolve: (id) => {
        if (Either.isLeft(policy)) return Effect.fail(new ConfigError({ file, message: `${file}: ${policy.left}` }))
        const wanted = id ?? config.defaultPipeline ?? DIAGNOSTICS.id
        const problem = checkTree(wanted)
        const found = lookup(wanted)
        return problem === undefined && found !== undefined ? Effect.succeed(found) : Effect.fail(
          problem ?? new ConfigError({ file, message: `unknown pipeline '${wanted}'` })
        )
      }
    }
  }

  static readonly layer = (config: ProjectConfig, file = "codex.orchestrator.json"): Layer.Layer<Pipelines> =>
    Layer.succeed(Pipelines, Pipelines.fromConfig(config, file))

  /**
   * Reads `<root>/codex.orchestrator.json` when it exists. A bad file does not fail the layer (so
   * `--help` and `status` still work); it fails every `resolve` with the ConfigError naming the field.
   */
  static readonly Live: Layer.Layer<Pipelines, never, FileSystem.FileSystem | Settings> = Layer.effect(
    Pipelines,
    Effect.gen(function*() {
      const settings = yield* Settings
      const loaded = yield* Effect.either(loadProjectConfig(settings.configFile))
      return Either.match(loaded, {
        onLeft: (error): PipelinesShape => ({ config: Effect.fail(error), resolve: () => Effect.fail(error) }),
        onRight: (config) => Pipelines.fromConfig(config, "codex.orchestrator.json")
      })
    })
  )

  /** The lock retry policy the project asked for; the default while the config cannot be used. */
  static readonly lockRetryPolicy: Layer.Layer<LockRetryPolicy, never, Pipelines> = Layer.effect(
    LockRetryPolicy,
    Effect.gen(function*() {
      const pipelines = yield* Pipelines
      const config = yield* Effect.option(pipelines.config)
      return Option.match(config, {
        onNone: () => LockRetryPolicy.defaults,
        onSome: (c) => Either.getOrElse(LockRetryPolicy.fromSettings(c.persistence?.lockRetry), () => LockRetryPolicy.defaults)
      })
    })
  )
}

export const loadProjectConfig = (file: string): Effect.Effect<ProjectConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (!exists) return ProjectConfig.make({})
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => new ConfigError({ file, message: `${file}: cannot read (${e.message})` }))
    )
    return yield* Either.match(decodeProjectConfig(text), {
      onLeft: (problem) => Effect.fail(new ConfigError({ file, message: `${file}: ${problem}` })),
      onRight: Effect.succeed
    })
  })

/** Decodes the config text; on failure, one line naming the path of the first offending field. */
export const decodeProjectConfig = (text: string): Either.Either<ProjectConfig, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(ProjectConfigJson, strictParse)(text), (error) => {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
    const first = issues[0]
    if (first === undefined) return "does not match the expected shape"
    const line = first.message.split("\n")[0]
    return first.path.length === 0 ? `is not a valid config: ${line}` : `${formatPath(first.path)}: ${line}`
  })

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, key) =>
    typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`, "")

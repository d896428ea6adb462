import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, Either, Layer, Schema } from "effect"
import * as path from "node:path"
import { ConfigError } from "./domain/Errors.js"
import { describeParseError } from "./domain/ParseIssue.js"
import { ProjectConfig, ProjectConfigJson } from "./domain/ProjectConfig.js"
import { strictParse } from "./domain/RunManifest.js"
import { isNotFound } from "./persistence/PlatformFailure.js"
import { Settings } from "./Settings.js"

/** Decodes the config text; on failure, one line naming the path of the first offending field. */
export const decodeProjectConfig = (text: string): Either.Either<ProjectConfig, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(ProjectConfigJson, strictParse)(text), (error) => describeParseError(error, "is not a valid config"))

// Checked whole before anything is written; a config that cannot be used fails only the commands that
// need it, so `--help` and `status` still answer.
export class Project extends Context.Tag("codex-orchestrator/Project")<Project, {
  readonly config: Effect.Effect<ProjectConfig, ConfigError>
  readonly has: (relativePath: string) => Effect.Effect<boolean>
}>() {
  static readonly layer: Layer.Layer<Project, never, FileSystem.FileSystem | Settings> = Layer.effect(
    Project,
    Effect.gen(function*() {
      const settings = yield* Settings
      const fs = yield* FileSystem.FileSystem
      const loaded = yield* Effect.either(loadProjectConfig(settings.configFile))
      return {
        config: Either.match(loaded, { onLeft: Effect.fail, onRight: Effect.succeed }),
        has: (relativePath) => fs.exists(path.resolve(settings.root, relativePath)).pipe(Effect.orElseSucceed(() => false))
      }
    })
  )
}

const refused = (file: string, problem: string) => new ConfigError({ file, message: `${file}: ${problem}` })

/** Only a config that does not exist means "no config": a dangling link or an unreadable file is an error. */
export const loadProjectConfig = (file: string): Effect.Effect<ProjectConfig, ConfigError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(
      Effect.map((text): string | null => text),
      Effect.catchIf(isNotFound, () =>
        fs.readLink(file).pipe(
          Effect.matchEffect({
            onFailure: () => Effect.succeed(null),
            onSuccess: (target) => Effect.fail(refused(file, `is a link to ${target}, which does not exist`))
          })
        )),
      Effect.catchTags({
        SystemError: (error) => Effect.fail(refused(file, `cannot be read (${error.message})`)),
        BadArgument: (error) => Effect.fail(refused(file, `cannot be read (${error.message})`))
      })
    )
    if (text === null) return ProjectConfig.make({})
    return yield* Either.match(decodeProjectConfig(text), {
      onLeft: (problem) => Effect.fail(refused(file, problem)),
      onRight: Effect.succeed
    })
  })

import { FileSystem } from "@effect/platform"
import { Context, Effect, Either, Layer } from "effect"
import { CorruptFileError, InvalidInputError, RunNotFoundError } from "../domain/Errors.js"
import { decodeRunId } from "../domain/Ids.js"
import { decodeRunManifest, type RunManifest } from "../domain/RunManifest.js"
import { runPaths, type RunPaths } from "../Layout.js"
import { Settings } from "../Settings.js"

export interface LocatedRun {
  readonly taskId: string
  readonly paths: RunPaths
  readonly manifest: RunManifest
  /** The `.heartbeat` file's timestamp: the heartbeat rewrites it more often than the manifest. */
  readonly heartbeatFileAt: string | null
}

export type LocateError = InvalidInputError | RunNotFoundError | CorruptFileError

/** Finds a run by id under RUNS/<task>/cli/<run>, whichever task it belongs to; legacy trees included. */
export interface RunLocatorShape {
  readonly find: (runId: string) => Effect.Effect<LocatedRun, LocateError>
  readonly read: (located: LocatedRun) => Effect.Effect<LocatedRun, LocateError>
}

export class RunLocator extends Context.Tag("codex-orchestrator/RunLocator")<RunLocator, RunLocatorShape>() {
  static readonly Live = Layer.effect(
    RunLocator,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const settings = yield* Settings

      const load = (taskId: string, runId: string): Effect.Effect<LocatedRun, LocateError> =>
        Effect.gen(function*() {
          const paths = runPaths(settings, taskId, runId)
          const text = yield* fs.readFileString(paths.manifest).pipe(
            Effect.mapError(() =>
              new RunNotFoundError({ runId, message: `run ${runId}: manifest ${paths.manifest} cannot be read` })
            )
          )
          const manifest = yield* decodeRunManifest(text).pipe(
            Effect.mapError((error) =>
              new CorruptFileError({
                path: paths.manifest,
                movedTo: null,
                message: `${paths.manifest} is not a valid run manifest: ${error.message.split("\n").slice(-1)[0]?.trim() ?? ""}`
              })
            )
          )
          const heartbeat = yield* fs.readFileString(paths.heartbeat).pipe(
            Effect.map((line) => line.trim()),
            Effect.map((line) => (line.length > 0 ? line : null)),
            Effect.orElseSucceed(() => null)
          )
          return { taskId, paths, manifest, heartbeatFileAt: heartbeat }
        })

      const find = (runId: string) =>
        Effect.gen(function*() {
          const id = yield* Either.match(decodeRunId(runId), {
            onLeft: (message) => Effect.fail(new InvalidInputError({ message })),
            onRight: Effect.succeed
          })
          const tasks = yield* fs.readDirectory(settings.runsDir).pipe(Effect.orElseSucceed(() => []))
          for (const taskId of [...tasks].sort()) {
            if (taskId === "local-mcp") continue
            const exists = yield* fs.exists(runPaths(settings, taskId, id).manifest).pipe(Effect.orElseSucceed(() => false))
            if (exists) return yield* load(taskId, id)
          }
          return yield* Effect.fail(new RunNotFoundError({ runId, message: `run ${runId} not found under ${settings.runsDir}` }))
        })

      return {
        find,
        read: (located) => load(located.taskId, located.manifest.run_id)
      }
    })
  )
}

import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Layer } from "effect"
import { PersistenceError } from "../domain/Errors.js"
import { isAlreadyExists, isNotFound, toPersistenceError } from "./PlatformFailure.js"

export interface DirectoriesShape {
  /** Makes `dir` and its missing parents, once per process; fails when a part cannot be made. */
  readonly ensure: (dir: string) => Effect.Effect<void, PersistenceError>
  /** Forgets that `dir` was made (it was removed under us). */
  readonly forget: (dir: string) => void
}

// One level at a time, each tried at most twice: Node's recursive mkdir retries for ever where a parent
// refuses children (`/proc/nope` spun at 90 % CPU, deaf to SIGTERM).
export class Directories extends Context.Tag("codex-orchestrator/Directories")<Directories, DirectoriesShape>() {
  static readonly layer: Layer.Layer<Directories, never, FileSystem.FileSystem | Path.Path> = Layer.effect(
    Directories,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const made = new Set<string>()

      const attempt = (dir: string) =>
        fs.makeDirectory(dir).pipe(
          Effect.as("made" as const),
          Effect.catchIf(isAlreadyExists, () => Effect.succeed("exists" as const)),
          Effect.catchIf(isNotFound, () => Effect.succeed("no parent" as const)),
          Effect.mapError(toPersistenceError("create directory", dir))
        )

      const refused = (dir: string, why: string) =>
        new PersistenceError({ operation: "create directory", path: dir, reason: "NotFound", message: `could not create directory ${dir}: ${why}` })

      const make = (dir: string): Effect.Effect<void, PersistenceError> =>
        Effect.gen(function*() {
          let outcome = yield* attempt(dir)
          if (outcome === "no parent") {
            const parent = path.dirname(dir)
            if (parent === dir) return yield* refused(dir, "the root cannot be made")
            yield* ensure(parent)
            outcome = yield* attempt(dir)
            if (outcome === "no parent") return yield* refused(dir, "its parent exists but refuses new directories")
          }
          if (outcome === "exists") {
            const info = yield* fs.stat(dir).pipe(Effect.mapError(toPersistenceError("create directory", dir)))
            if (info.type !== "Directory") return yield* refused(dir, "a file of that name is in the way")
          }
          made.add(dir)
        })

      const ensure = (dir: string): Effect.Effect<void, PersistenceError> => made.has(dir) ? Effect.void : make(dir)

      return { ensure, forget: (dir) => void made.delete(dir) }
    })
  )
}

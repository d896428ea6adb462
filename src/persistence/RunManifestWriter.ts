import * as FileSystem from "@effect/platform/FileSystem"
import { Context, Effect, Layer } from "effect"
import { CorruptFileError, type PersistenceError } from "../domain/Errors.js"
import { decodeRunManifest, manifestJson, type RunManifest } from "../domain/RunManifest.js"
import { AtomicFile } from "./AtomicFile.js"
import { toPersistenceError } from "./PlatformFailure.js"

export interface RunManifestWriterShape {
  /** Replaces the manifest atomically; `durable` for the final write of a run (CONTRACT §3). */
  readonly write: (
    path: string,
    manifest: RunManifest,
    options?: { readonly durable?: boolean }
  ) => Effect.Effect<void, PersistenceError>
  /** Strict: a manifest with a field v1 does not have is refused, as its consumers refuse it. */
  readonly read: (path: string) => Effect.Effect<RunManifest, PersistenceError | CorruptFileError>
}

export class RunManifestWriter extends Context.Tag("codex-orchestrator/RunManifestWriter")<
  RunManifestWriter,
  RunManifestWriterShape
>() {
  static readonly Live: Layer.Layer<RunManifestWriter, never, FileSystem.FileSystem | AtomicFile> = Layer.effect(
    RunManifestWriter,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const atomic = yield* AtomicFile

      const write = Effect.fn("RunManifestWriter.write")(function*(
        path: string,
        manifest: RunManifest,
        options: { readonly durable?: boolean } = {}
      ) {
        yield* atomic.write(path, `${manifestJson(manifest)}\n`, { durable: options.durable ?? false })
      })

      const read = Effect.fn("RunManifestWriter.read")(function*(path: string) {
        const text = yield* fs.readFileString(path).pipe(Effect.mapError(toPersistenceError("read", path)))
        return yield* decodeRunManifest(text).pipe(
          Effect.mapError((error) =>
            new CorruptFileError({ path, movedTo: null, message: `${path} is not a valid run manifest: ${error.message}` })
          )
        )
      })

      return { write, read }
    })
  )
}

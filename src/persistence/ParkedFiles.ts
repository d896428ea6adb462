import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Either, Schema } from "effect"
import type { ParseOptions } from "effect/SchemaAST"
import type { PersistenceError } from "../domain/Errors.js"
import { AtomicFile } from "./AtomicFile.js"
import { recoverNotFound, toPersistenceError } from "./PlatformFailure.js"

/** A parked file and its record, or the first line of why it does not decode. */
export interface ParkedFile<A> {
  readonly file: string
  readonly record: Either.Either<A, string>
}

/**
 * A directory of `RUN.json` records waiting for someone to take them: written atomically (no lock
 * needed), listed oldest name first, removed by whoever took them. The mechanism under the parked
 * summaries of the task snapshot and the runs the shared history has not taken yet.
 */
export const parkedFiles = <A>(json: Schema.Schema<A, string>, parseOptions?: ParseOptions) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const atomic = yield* AtomicFile
    const encode = Schema.encodeSync(json)
    const decode = Schema.decodeUnknownEither(json, parseOptions)

    const write = (file: string, record: A, options: { readonly durable: boolean }): Effect.Effect<void, PersistenceError> =>
      atomic.write(file, `${encode(record)}\n`, options)

    const readOne = (file: string) =>
      recoverNotFound(fs.readFileString(file), () => null).pipe(
        Effect.mapError(toPersistenceError("read", file)),
        Effect.map((text): ReadonlyArray<ParkedFile<A>> =>
          text === null ? [] : [{ file, record: Either.mapLeft(decode(text), (error) => error.message.split("\n")[0] ?? "") }])
      )

    /** Temp files start with a dot; a file removed meanwhile is simply not listed. */
    const list = (dir: string): Effect.Effect<ReadonlyArray<ParkedFile<A>>, PersistenceError> =>
      recoverNotFound(fs.readDirectory(dir), () => []).pipe(
        Effect.mapError(toPersistenceError("list", dir)),
        Effect.flatMap((names) =>
          Effect.forEach(names.filter((name) => name.endsWith(".json") && !name.startsWith(".")).sort(), (name) => readOne(path.join(dir, name)), {
            concurrency: 8
          })),
        Effect.map((found) => found.flat())
      )

    const remove = (files: ReadonlyArray<string>): Effect.Effect<void, PersistenceError> =>
      Effect.forEach(files, (file) => fs.remove(file, { force: true }).pipe(Effect.mapError(toPersistenceError("remove", file))), {
        concurrency: 8,
        discard: true
      })

    /** When it cannot be told, the file counts as still there: its records are never taken for merged. */
    const exists = (file: string) => fs.exists(file).pipe(Effect.orElseSucceed(() => true))

    return { write, list, remove, exists }
  })

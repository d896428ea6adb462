import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Option, type Scope } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import type { EncodedEvents } from "../domain/Records.js"
import { toPersistenceError } from "./PlatformFailure.js"

/** An append-only ndjson file; appends are serialised so lines from concurrent writers never interleave. */
export interface NdjsonLog {
  readonly path: string
  readonly appendEncoded: (lines: EncodedEvents) => Effect.Effect<void, PersistenceError>
}

// A writer killed mid-line leaves no final newline; a resumed run would glue its first event onto the
// torn line, so that line is ended first.
const endTornLine = (file: FileSystem.File) =>
  Effect.gen(function*() {
    const { size } = yield* file.stat
    if (size === BigInt(0)) return
    yield* file.seek(size - BigInt(1), "start")
    const last = yield* file.readAlloc(1)
    if (Option.isSome(last) && last.value[0] !== 0x0a) yield* file.writeAll(new Uint8Array([0x0a]))
  })

export const openNdjsonLog = (fs: FileSystem.FileSystem, path: string): Effect.Effect<NdjsonLog, PersistenceError, Scope.Scope> =>
  Effect.gen(function*() {
    const file = yield* fs.open(path, { flag: "a+" }).pipe(Effect.mapError(toPersistenceError("open", path)))
    yield* endTornLine(file).pipe(Effect.mapError(toPersistenceError("open", path)))
    const lock = yield* Effect.makeSemaphore(1)
    return {
      path,
      appendEncoded: (lines) =>
        lines.length === 0
          ? Effect.void
          : lock.withPermits(1)(file.writeAll(lines)).pipe(Effect.mapError(toPersistenceError("append to", path)))
    }
  })

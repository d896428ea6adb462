import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Brand, Effect, Schema, type Scope } from "effect"
import { PersistenceError } from "../../domain/Errors.js"
import { RunnerEvent } from "../../domain/Records.js"

/** Lines of ndjson that went through the RunnerEvent schema, ready to append as they are. */
export type EncodedEvents = Uint8Array & Brand.Brand<"EncodedEvents">
const EncodedEvents = Brand.nominal<EncodedEvents>()

const RunnerEventJson = Schema.parseJson(RunnerEvent)
const encodeLine = Schema.encodeSync(RunnerEventJson)

/** Encodes events once so the same bytes can go to several logs (the stage log and runner.ndjson). */
export const encodeEvents = (events: ReadonlyArray<RunnerEvent>): EncodedEvents => {
  let text = ""
  for (const event of events) text += encodeLine(event) + "\n"
  return EncodedEvents(Buffer.from(text, "utf8"))
}

/** An append-only ndjson file; appends are serialised so lines from concurrent writers never interleave. */
export interface NdjsonLog {
  readonly path: string
  readonly append: (event: RunnerEvent) => Effect.Effect<void, PersistenceError>
  readonly appendEncoded: (lines: EncodedEvents) => Effect.Effect<void, PersistenceError>
}

const persistenceError = (operation: string, path: string) => (error: PlatformError) =>
  new PersistenceError({
    operation,
    path,
    reason: error._tag === "SystemError" ? error.reason : error._tag,
    message: `could not ${operation} ${path}: ${error.message}`,
    cause: error
  })

export const NdjsonLog = {
  open: (path: string): Effect.Effect<NdjsonLog, PersistenceError, Scope.Scope | FileSystem.FileSystem> =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const file = yield* fs.open(path, { flag: "a" }).pipe(Effect.mapError(persistenceError("open", path)))
      const lock = yield* Effect.makeSemaphore(1)
      const appendEncoded = (lines: EncodedEvents) =>
        lines.length === 0
          ? Effect.void
          : lock.withPermits(1)(file.writeAll(lines)).pipe(Effect.mapError(persistenceError("append to", path)))
      return {
        path,
        append: (event: RunnerEvent) => Effect.suspend(() => appendEncoded(encodeEvents([event]))),
        appendEncoded
      }
    })
}

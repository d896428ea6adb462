import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, Effect, Either, Layer, Schema } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { preserveUnknown, type RunSummary, RunSummaryJson } from "../domain/RunSummary.js"
import { taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { AtomicFile } from "./AtomicFile.js"
import { recoverNotFound, toPersistenceError } from "./PlatformFailure.js"

export interface Parked {
  readonly file: string
  readonly summary: Either.Either<RunSummary, string>
}

export interface ParkedSummariesShape {
  /** Writes the summary to `OUT/TASK/pending/RUN.json` atomically; no lock is needed (CONTRACT §8). */
  readonly park: (taskId: string, summary: RunSummary, options: { readonly durable: boolean }) => Effect.Effect<string, PersistenceError>
  /** The parked summaries of a task, oldest name first. */
  readonly list: (taskId: string) => Effect.Effect<ReadonlyArray<Parked>, PersistenceError>
  /** Removes parked files once a snapshot holding them is on disk. */
  readonly unpark: (files: ReadonlyArray<string>) => Effect.Effect<void, PersistenceError>
  readonly isParked: (file: string) => Effect.Effect<boolean>
}

const encode = Schema.encodeSync(RunSummaryJson)
const decode = Schema.decodeUnknownEither(RunSummaryJson, preserveUnknown)

export class ParkedSummaries extends Context.Tag("codex-orchestrator/ParkedSummaries")<ParkedSummaries, ParkedSummariesShape>() {
  static readonly layer: Layer.Layer<ParkedSummaries, never, FileSystem.FileSystem | Path.Path | Settings | AtomicFile> = Layer.effect(
    ParkedSummaries,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const settings = yield* Settings
      const atomic = yield* AtomicFile

      const park = Effect.fn("ParkedSummaries.park")(function*(taskId: string, summary: RunSummary, options: { readonly durable: boolean }) {
        const file = taskPaths(settings, taskId).parkedSummary(summary.runId)
        yield* atomic.write(file, `${encode(summary)}\n`, { durable: options.durable })
        return file
      })

      const readOne = (file: string) =>
        recoverNotFound(fs.readFileString(file), () => null).pipe(
          Effect.mapError(toPersistenceError("read", file)),
          Effect.map((text): ReadonlyArray<Parked> =>
            text === null ? [] : [{ file, summary: Either.mapLeft(decode(text), (error) => error.message.split("\n")[0] ?? "") }])
        )

      const list = Effect.fn("ParkedSummaries.list")(function*(taskId: string) {
        const dir = taskPaths(settings, taskId).pendingDir
        const names = yield* recoverNotFound(fs.readDirectory(dir), () => []).pipe(Effect.mapError(toPersistenceError("list", dir)))
        const parked = names.filter((name) => name.endsWith(".json") && !name.startsWith(".")).sort()
        const found = yield* Effect.forEach(parked, (name) => readOne(path.join(dir, name)), { concurrency: 8 })
        return found.flat()
      })

      const unpark = (files: ReadonlyArray<string>) =>
        Effect.forEach(files, (file) => fs.remove(file, { force: true }).pipe(Effect.mapError(toPersistenceError("remove", file))), {
          concurrency: 8,
          discard: true
        })

      const isParked = (file: string) => fs.exists(file).pipe(Effect.orElseSucceed(() => true))

      return { park, list, unpark, isParked }
    })
  )
}

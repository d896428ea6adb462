import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Context, Effect, Layer } from "effect"
import type { PersistenceError } from "../domain/Errors.js"
import { preserveUnknown, type RunSummary, RunSummaryJson } from "../domain/RunSummary.js"
import { taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import type { AtomicFile } from "./AtomicFile.js"
import { type ParkedFile, parkedFiles } from "./ParkedFiles.js"

export type Parked = ParkedFile<RunSummary>

export interface ParkedSummariesShape {
  /** Writes the summary to `OUT/TASK/pending/RUN.json` atomically; no lock is needed (CONTRACT §8). */
  readonly park: (taskId: string, summary: RunSummary, options: { readonly durable: boolean }) => Effect.Effect<string, PersistenceError>
  readonly list: (taskId: string) => Effect.Effect<ReadonlyArray<Parked>, PersistenceError>
  /** Only once a snapshot holding them is on disk. */
  readonly unpark: (files: ReadonlyArray<string>) => Effect.Effect<void, PersistenceError>
  readonly isParked: (file: string) => Effect.Effect<boolean>
}

export class ParkedSummaries extends Context.Tag("codex-orchestrator/ParkedSummaries")<ParkedSummaries, ParkedSummariesShape>() {
  static readonly layer: Layer.Layer<ParkedSummaries, never, FileSystem.FileSystem | Path.Path | Settings | AtomicFile> = Layer.effect(
    ParkedSummaries,
    Effect.gen(function*() {
      const settings = yield* Settings
      const files = yield* parkedFiles(RunSummaryJson, preserveUnknown)
      return {
        park: Effect.fn("ParkedSummaries.park")(function*(taskId: string, summary: RunSummary, options: { readonly durable: boolean }) {
          const file = taskPaths(settings, taskId).parkedSummary(summary.runId)
          yield* files.write(file, summary, options)
          return file
        }),
        list: (taskId) => files.list(taskPaths(settings, taskId).pendingDir),
        unpark: files.remove,
        isParked: files.exists
      }
    })
  )
}

import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Layer } from "effect"
import type { Redaction } from "../domain/Redactor.js"
import type { Settings } from "../Settings.js"
import { AtomicFile } from "./AtomicFile.js"
import { Directories } from "./Directories.js"
import { FileLock } from "./FileLock.js"
import type { LockRetryPolicy } from "./LockRetryPolicy.js"
import { MetricsRecorder } from "./MetricsRecorder.js"
import { ParkedSummaries } from "./ParkedSummaries.js"
import { PendingHistory } from "./PendingHistory.js"
import { PersistenceCoordinator } from "./PersistenceCoordinator.js"
import type { ProcessInfo } from "./ProcessInfo.js"
import { RunDirectory } from "./RunDirectory.js"
import { StageProcesses } from "./StageProcesses.js"
import { TaskLock } from "./TaskLock.js"
import { TaskStateStore } from "./TaskStateStore.js"

/** What the rest of the program uses of persistence; files, locks and temp names stay inside. */
export type Persistence = RunDirectory | StageProcesses | TaskStateStore | PersistenceCoordinator | MetricsRecorder | PendingHistory

/** The mechanisms under the services: atomic files, lock files, directories, parked summaries. */
export const internals = Layer.mergeAll(TaskLock.layer, ParkedSummaries.layer).pipe(
  Layer.provideMerge(Layer.mergeAll(AtomicFile.layer, FileLock.layer)),
  Layer.provideMerge(Directories.layer)
)

/** The one persistence layer, for the app and the tests alike, over whichever FileSystem is provided. */
export const layer: Layer.Layer<
  Persistence,
  never,
  FileSystem.FileSystem | Path.Path | Settings | LockRetryPolicy | Redaction | ProcessInfo
> = Layer.mergeAll(RunDirectory.layer, StageProcesses.layer, PersistenceCoordinator.layer, MetricsRecorder.layer, PendingHistory.layer).pipe(
  Layer.provideMerge(TaskStateStore.layer),
  Layer.provide(internals)
)

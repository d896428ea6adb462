import type { FileSystem } from "@effect/platform/FileSystem"
import type { Path } from "@effect/platform/Path"
import type { Terminal } from "@effect/platform/Terminal"
import { Layer } from "effect"
import { ExitCode } from "./ExitCode.js"
import { AtomicFile } from "./persistence/AtomicFile.js"
import { MetricsRecorder } from "./persistence/MetricsRecorder.js"
import { PersistenceCoordinator } from "./persistence/PersistenceCoordinator.js"
import { ProcessInfo } from "./persistence/ProcessInfo.js"
import { RunManifestWriter } from "./persistence/RunManifestWriter.js"
import { TaskLock } from "./persistence/TaskLock.js"
import { TaskStateStore } from "./persistence/TaskStateStore.js"
import { Pipelines } from "./run/Pipelines.js"
import type { Progress } from "./run/Progress.js"
import { RunEngine } from "./run/RunEngine.js"
import { RunLocator } from "./run/RunLocator.js"
import type { Shutdown } from "./run/Shutdown.js"
import { StageProcess } from "./run/StageProcess.js"
import type { Settings } from "./Settings.js"

export type Platform = FileSystem | Path | Terminal

/**
 * The one composition root: everything the commands need, over a platform (real or in-memory),
 * the settings, the stop signal and the progress display that the caller chooses.
 */
export const appLayer = <E>(
  platform: Layer.Layer<Platform, E>,
  edges: Layer.Layer<Settings | Shutdown | Progress>,
  stageProcess: Layer.Layer<StageProcess, never, Platform> = StageProcess.Live
) => {
  const base = Layer.merge(platform, edges)
  const pipelines = Pipelines.Live.pipe(Layer.provideMerge(base))
  const persistence = PersistenceCoordinator.Live.pipe(
    Layer.provideMerge(TaskStateStore.Live),
    Layer.provideMerge(TaskLock.Live),
    Layer.provideMerge(Pipelines.lockRetryPolicy),
    Layer.provideMerge(Layer.mergeAll(AtomicFile.Live, ProcessInfo.Live)),
    Layer.provideMerge(pipelines)
  )
  const writers = Layer.mergeAll(RunManifestWriter.Live, MetricsRecorder.Live).pipe(Layer.provideMerge(persistence))
  const engine = RunEngine.Live.pipe(
    Layer.provideMerge(Layer.mergeAll(RunLocator.Live, stageProcess)),
    Layer.provideMerge(writers)
  )
  return Layer.merge(engine, ExitCode.layer)
}

import { Layer } from "effect"
import { AtomicFile } from "../../../src/persistence/AtomicFile.js"
import { LockRetryPolicy } from "../../../src/persistence/LockRetryPolicy.js"
import { PersistenceCoordinator } from "../../../src/persistence/PersistenceCoordinator.js"
import { ProcessInfo } from "../../../src/persistence/ProcessInfo.js"
import { TaskLock } from "../../../src/persistence/TaskLock.js"
import { TaskStateStore } from "../../../src/persistence/TaskStateStore.js"
import { Settings, type SettingsShape } from "../../../src/Settings.js"

/** The real persistence stack over whatever FileSystem and Path are provided (the real disk, here). */
export const livePersistence = (settings: SettingsShape) =>
  PersistenceCoordinator.Live.pipe(
    Layer.provideMerge(TaskStateStore.Live),
    Layer.provideMerge(TaskLock.Live),
    Layer.provideMerge(AtomicFile.Live),
    Layer.provideMerge(ProcessInfo.Live),
    Layer.provideMerge(LockRetryPolicy.Default),
    Layer.provideMerge(Settings.layer(settings))
  )

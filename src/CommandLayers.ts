import type { FileSystem } from "@effect/platform/FileSystem"
import { Effect, Layer, Option } from "effect"
import type { Base } from "./AppLayer.js"
import { databaseHistory } from "./history/DatabaseHistory.js"
import { RunHistory } from "./history/RunHistory.js"
import * as Persistence from "./persistence/Persistence.js"
import { RunCompletion } from "./run/RunCompletion.js"
import { RunEngine } from "./run/RunEngine.js"
import { StageProcess } from "./run/stage/StageProcess.js"
import type { StageSpawner } from "./run/stage/StageSpawner.js"
import { StageRunner } from "./run/StageRunner.js"
import { Settings } from "./Settings.js"

// A module of its own, so that `plan` (which needs none of it) loads none of it.

/** The shared history when a URL names one (CONTRACT §11), else the files alone; persistence under it. */
export const stored: Layer.Layer<RunHistory | Persistence.Persistence, never, Base> = Layer.unwrapEffect(
  Effect.map(Settings, (settings) => Option.match(settings.historyUrl, { onNone: () => RunHistory.files, onSome: databaseHistory }))
).pipe(Layer.provideMerge(Persistence.layer))

export const runs = (spawner: Layer.Layer<StageSpawner, never, FileSystem>): Layer.Layer<RunEngine, never, Base> =>
  RunEngine.layer.pipe(
    Layer.provide(Layer.mergeAll(StageRunner.layer, RunCompletion.layer)),
    Layer.provide(StageProcess.layer.pipe(Layer.provide(spawner))),
    Layer.provide(stored)
  )

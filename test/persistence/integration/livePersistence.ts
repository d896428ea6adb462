import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Layer } from "effect"
import { Redaction, Redactor } from "../../../src/domain/Redactor.js"
import { LockRetryPolicy } from "../../../src/persistence/LockRetryPolicy.js"
import * as Persistence from "../../../src/persistence/Persistence.js"
import { ProcessInfo } from "../../../src/persistence/ProcessInfo.js"
import { Settings, type SettingsShape } from "../../../src/Settings.js"

/** The app's own persistence layer over the real disk, as one OS process of the contention test uses it. */
export const livePersistence = (settings: SettingsShape) =>
  Persistence.layer.pipe(
    Layer.provide(ProcessInfo.layer),
    Layer.provide(Layer.mergeAll(LockRetryPolicy.layer(), Layer.succeed(Redaction, Redactor.empty), Settings.layer(settings))),
    Layer.provideMerge(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))
  )

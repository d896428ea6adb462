import { Context, Effect, Layer, type Scope } from "effect"
import { type PersistenceError, TaskStateStoreLockError } from "../domain/Errors.js"
import type { LockHolder } from "../domain/Records.js"
import { taskPaths } from "../Layout.js"
import { Settings } from "../Settings.js"
import { describeHolder, FileLock } from "./FileLock.js"
import { LockRetryPolicy } from "./LockRetryPolicy.js"

export interface TaskLockShape {
  /** CONTRACT §8. Released by token when the scope closes, whether by success, failure or interruption. */
  readonly acquire: (taskId: string) => Effect.Effect<LockHolder, TaskStateStoreLockError | PersistenceError, Scope.Scope>
}

export class TaskLock extends Context.Tag("codex-orchestrator/TaskLock")<TaskLock, TaskLockShape>() {
  static readonly layer: Layer.Layer<TaskLock, never, FileLock | LockRetryPolicy | Settings> = Layer.effect(
    TaskLock,
    Effect.gen(function*() {
      const lock = yield* FileLock
      const policy = yield* LockRetryPolicy
      const settings = yield* Settings
      const schedule = LockRetryPolicy.schedule(policy)

      const acquire = Effect.fn("TaskLock.acquire")(function*(taskId: string) {
        const lockPath = taskPaths(settings, taskId).lock
        let attempts = 0
        return yield* Effect.suspend(() => {
          attempts++
          return lock.acquire(lockPath)
        }).pipe(
          Effect.tapErrorTag("LockBusy", (busy) =>
            Effect.logDebug(`task ${taskId}: lock ${lockPath} is held by ${describeHolder(busy.holder)} (attempt ${attempts} of ${policy.maxAttempts})`)),
          Effect.retry({ schedule, while: (error) => error._tag === "LockBusy" }),
          Effect.catchTag("LockBusy", (busy) =>
            Effect.fail(
              new TaskStateStoreLockError({
                taskId,
                attempts,
                lockPath,
                holder: busy.holder,
                message: `task ${taskId}: the state lock ${lockPath} stayed held by ${describeHolder(busy.holder)} through ${attempts} attempts`
              })
            ))
        )
      })

      return { acquire }
    })
  )
}

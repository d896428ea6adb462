import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"
import { PersistenceError } from "../domain/Errors.js"

/** The one way a platform failure becomes a PersistenceError: the operation, the path, a reason to match on. */
export const toPersistenceError = (operation: string, path: string) => (error: PlatformError): PersistenceError =>
  new PersistenceError({
    operation,
    path,
    reason: error._tag === "SystemError" ? error.reason : "BadArgument",
    message: `could not ${operation} ${path}: ${error.message}`,
    cause: error
  })

export const isNotFound = (error: PlatformError): boolean => error._tag === "SystemError" && error.reason === "NotFound"

export const isAlreadyExists = (error: PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === "AlreadyExists"

export const recoverNotFound = <A, B, R>(effect: Effect.Effect<A, PlatformError, R>, onNotFound: () => B) =>
  Effect.catchIf(effect, isNotFound, () => Effect.succeed(onNotFound()))

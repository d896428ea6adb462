import type { PlatformError } from "@effect/platform/Error"
import { Effect } from "effect"
import { PersistenceError } from "../domain/Errors.js"

/** Wraps a platform failure at the service boundary, keeping its reason so callers can match on it. */
export const toPersistenceError = (operation: string, path: string) => (error: PlatformError): PersistenceError =>
  new PersistenceError({
    operation,
    path,
    reason: error._tag === "SystemError" ? error.reason : "BadArgument",
    message: `${operation} ${path} failed: ${error.message}`,
    cause: error
  })

export const isNotFound = (error: PlatformError): boolean => error._tag === "SystemError" && error.reason === "NotFound"

export const isAlreadyExists = (error: PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === "AlreadyExists"

/** `effect`, with NotFound turned into `onNotFound`; any other failure stays a failure. */
export const recoverNotFound = <A, B, R>(effect: Effect.Effect<A, PlatformError, R>, onNotFound: () => B) =>
  Effect.catchIf(effect, isNotFound, () => Effect.succeed(onNotFound()))

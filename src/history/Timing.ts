// Subpath imports: the history chunk takes effect from the main bundle by subpath (scripts/build.mjs).
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** A debug line with how long a step of the shared history took (`CODEX_ORCHESTRATOR_LOG=debug`). */
export const timed = (what: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.timed(effect).pipe(
    Effect.tap(([took]) => Effect.logDebug(`shared history timing: ${what} ${Duration.toMillis(took).toFixed(1)} ms`)),
    Effect.map(([, value]) => value)
  )

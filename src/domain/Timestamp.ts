import { Clock, Effect } from "effect"

/** ISO-8601 UTC with milliseconds, the only timestamp form written to disk. */
export const isoAt = (millis: number): string => new Date(millis).toISOString()

/** The current time from `Clock`, so TestClock drives it. */
export const nowIso: Effect.Effect<string> = Effect.map(Clock.currentTimeMillis, isoAt)

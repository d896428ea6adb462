import { Context, Duration, Layer, Schedule } from "effect"
import { DEFAULT_LOCK_RETRY, JITTER_MAX, JITTER_MIN, type LockRetrySettings } from "../domain/ProjectConfig.js"

/** How `recordRun` waits for the task state lock: the project's `persistence.lockRetry`, decoded and checked. */
export class LockRetryPolicy extends Context.Tag("codex-orchestrator/LockRetryPolicy")<LockRetryPolicy, LockRetrySettings>() {
  static readonly layer = (policy: LockRetrySettings = DEFAULT_LOCK_RETRY): Layer.Layer<LockRetryPolicy> =>
    Layer.succeed(LockRetryPolicy, policy)

  /** Finite: `Schedule.exponential` alone never stops. Recurrences are retries, so `maxAttempts - 1` of them. */
  static readonly schedule = (policy: LockRetrySettings): Schedule.Schedule<Duration.Duration> =>
    Schedule.exponential(Duration.millis(policy.initialDelayMs), policy.backoffFactor).pipe(
      Schedule.jitteredWith({ min: JITTER_MIN, max: JITTER_MAX }),
      Schedule.modifyDelay((_, delay) =>
        policy.maxDelayMs === undefined ? delay : Duration.min(delay, Duration.millis(policy.maxDelayMs))),
      Schedule.intersect(Schedule.recurs(policy.maxAttempts - 1)),
      Schedule.map(([delay]) => delay)
    )
}

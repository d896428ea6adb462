import { Context, Duration, Either, Layer, Schedule } from "effect"
import type { LockRetrySettings } from "../domain/ProjectConfig.js"

/** How `recordRun` waits for the task state lock (CONTRACT §8, `persistence.lockRetry`). */
export interface LockRetryPolicyShape {
  /** Attempts in all, the first included: `maxAttempts - 1` waits. */
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly backoffFactor: number
  /** Cap on one wait, applied after jitter so jitter cannot push a wait past it. */
  readonly maxDelayMs: number
}

/** Every wait is drawn from [0.8, 1.2] × its exponential value. */
export const JITTER_MIN = 0.8
export const JITTER_MAX = 1.2
/** All waits together, worst case, must stay under this (CONTRACT §8). */
export const TOTAL_WAIT_LIMIT_MS = 3000

const defaults: LockRetryPolicyShape = { maxAttempts: 5, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 1000 }

/** The longest each wait can be once jittered and capped. */
export const worstCaseWaitsMs = (policy: LockRetryPolicyShape): ReadonlyArray<number> =>
  Array.from(
    { length: Math.max(0, policy.maxAttempts - 1) },
    (_, retry) => Math.min(policy.initialDelayMs * policy.backoffFactor ** retry * JITTER_MAX, policy.maxDelayMs)
  )

export class LockRetryPolicy extends Context.Tag("codex-orchestrator/LockRetryPolicy")<
  LockRetryPolicy,
  LockRetryPolicyShape
>() {
  static readonly defaults = defaults

  /** The policy a project asks for, or a one-line reason it is refused. */
  static readonly fromSettings = (settings: LockRetrySettings | undefined): Either.Either<LockRetryPolicyShape, string> => {
    const policy: LockRetryPolicyShape = {
      maxAttempts: settings?.maxAttempts ?? defaults.maxAttempts,
      initialDelayMs: settings?.initialDelayMs ?? defaults.initialDelayMs,
      backoffFactor: settings?.backoffFactor ?? defaults.backoffFactor,
      maxDelayMs: settings?.maxDelayMs ?? defaults.maxDelayMs
    }
    if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
      return Either.left(`persistence.lockRetry.maxAttempts must be a whole number of at least 1 (got ${policy.maxAttempts})`)
    }
    if (policy.initialDelayMs < 0 || policy.maxDelayMs < 0 || policy.backoffFactor < 1) {
      return Either.left("persistence.lockRetry: delays must not be negative and backoffFactor must be at least 1")
    }
    const total = worstCaseWaitsMs(policy).reduce((sum, wait) => sum + wait, 0)
    if (total >= TOTAL_WAIT_LIMIT_MS) {
      return Either.left(
        `persistence.lockRetry: waits add up to ${Math.round(total)} ms in the worst case (jitter included); ` +
          `they must stay under ${TOTAL_WAIT_LIMIT_MS} ms: lower maxAttempts, initialDelayMs, backoffFactor or maxDelayMs`
      )
    }
    return Either.right(policy)
  }

  /**
   * Exponential, jittered, capped after jitter, and finite: `Schedule.exponential` alone never stops.
   * Recurrences are retries, so `maxAttempts - 1` of them.
   */
  static readonly schedule = (policy: LockRetryPolicyShape): Schedule.Schedule<Duration.Duration> =>
    Schedule.exponential(Duration.millis(policy.initialDelayMs), policy.backoffFactor).pipe(
      Schedule.jitteredWith({ min: JITTER_MIN, max: JITTER_MAX }),
      Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.millis(policy.maxDelayMs))),
      Schedule.intersect(Schedule.recurs(policy.maxAttempts - 1)),
      Schedule.map(([delay]) => delay)
    )

  static readonly layer = (policy: LockRetryPolicyShape): Layer.Layer<LockRetryPolicy> => Layer.succeed(LockRetryPolicy, policy)

  static readonly Default: Layer.Layer<LockRetryPolicy> = Layer.succeed(LockRetryPolicy, defaults)
}

import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Fiber, Random, TestClock } from "effect"
import { DEFAULT_LOCK_RETRY, type LockRetrySettings } from "../../src/domain/ProjectConfig.js"
import { LockRetryPolicy } from "../../src/persistence/LockRetryPolicy.js"
import { decodeProjectConfig } from "../../src/Project.js"

const policyProblem = (lockRetry: Partial<LockRetrySettings>) => decodeProjectConfig(JSON.stringify({ persistence: { lockRetry } }))

/** The waits `Effect.retry` really takes between attempts of an effect that always fails, in virtual time. */
const delaysOf = (policy: LockRetrySettings) =>
  Effect.gen(function*() {
    const attempts: Array<number> = []
    const fiber = yield* Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => Effect.fail(attempts.push(now))),
      Effect.retry(LockRetryPolicy.schedule(policy)),
      Effect.fork
    )
    yield* TestClock.adjust("1 minute")
    yield* Fiber.await(fiber)
    return attempts.slice(1).map((at, i) => at - attempts[i]!)
  })

describe("LockRetryPolicy", () => {
  it("defaults are 5 attempts, 100 ms, factor 2", () => {
    const decoded = Either.getOrThrow(decodeProjectConfig("{}"))
    expect(decoded.persistence.lockRetry).toEqual(DEFAULT_LOCK_RETRY)
    expect(DEFAULT_LOCK_RETRY).toMatchObject({ maxAttempts: 5, initialDelayMs: 100, backoffFactor: 2 })
  })

  it("refuses a policy whose worst-case waits reach 3 s, naming persistence.lockRetry", () => {
    const refused = policyProblem({ maxAttempts: 10, maxDelayMs: 2000 })
    expect(Either.isLeft(refused)).toBe(true)
    expect(Either.getLeft(refused).pipe((o) => o._tag === "Some" ? o.value : "")).toMatch(/^persistence\.lockRetry: .*3000 ms/)
    // 100+200+400+800 = 1500 nominal but 2500 worst case with a 2 s cap and jitter x1.2 on 6 waits: still refused at 3 s
    expect(Either.isLeft(policyProblem({ maxAttempts: 7, maxDelayMs: 2000 }))).toBe(true)
    expect(Either.isRight(policyProblem({ maxAttempts: 6, maxDelayMs: 500 }))).toBe(true)
  })

  it.effect("schedule: maxAttempts - 1 waits, each within its jitter band, capped after jitter", () =>
    Effect.gen(function*() {
      const firstWaits = new Set<number>()
      for (let seed = 0; seed < 8; seed++) {
        const delays = yield* delaysOf(DEFAULT_LOCK_RETRY).pipe(Effect.withRandom(Random.make(seed)))
        expect(delays).toHaveLength(4)
        firstWaits.add(delays[0]!)
        delays.forEach((delay, i) => {
          const nominal = 100 * 2 ** i
          expect(delay).toBeGreaterThanOrEqual(Math.min(nominal * 0.8, 1000))
          expect(delay).toBeLessThanOrEqual(Math.min(nominal * 1.2, 1000))
        })
        expect(delays.reduce((a, b) => a + b, 0)).toBeLessThan(3000)
        const capped = yield* delaysOf({ maxAttempts: 4, initialDelayMs: 400, backoffFactor: 2, maxDelayMs: 450 }).pipe(
          Effect.withRandom(Random.make(seed))
        )
        expect(capped[1]).toBe(450)
        expect(capped[2]).toBe(450)
      }
      expect(firstWaits.size).toBeGreaterThan(1)
    }))
})

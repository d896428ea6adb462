// The PostgreSQL server of test/support/postgresGlobalSetup.ts answers, and its advisory
// transaction locks (CONTRACT §11) exclude across connections.
import { PgClient } from "@effect/sql-pg"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Redacted } from "effect"
import { inject } from "vitest"

const PgLive = PgClient.layer({ url: Redacted.make(inject("pgUrl")), maxConnections: 4, applicationName: "codex-test" })

describe("test PostgreSQL server", () => {
  it("is also announced to spawned processes", () => {
    expect(process.env.CODEX_ORCHESTRATOR_TEST_PG_URL).toBe(inject("pgUrl"))
    expect(inject("pgUrl")).toMatch(/^postgres:\/\/codex:[^@]+@127\.0\.0\.1:\d+\/codex$/)
  })

  it.live("answers select 1", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      expect(yield* sql<{ one: number }>`select 1 as one`).toEqual([{ one: 1 }])
    }).pipe(Effect.provide(PgLive)))

  it.live("pg_advisory_xact_lock: a second transaction on another connection waits until the first commits", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const key = `task:lock-test-${process.pid}`
      const order: Array<string> = []
      const aLocked = yield* Deferred.make<void>()
      const bPid = yield* Deferred.make<number>()

      const a = sql.withTransaction(Effect.gen(function*() {
        const [me] = yield* sql<{ pid: number }>`select pg_backend_pid() as pid`
        yield* sql`select pg_advisory_xact_lock(hashtext(${key}))`
        order.push("A locked")
        yield* Deferred.succeed(aLocked, undefined)
        // Hold the lock until the server shows B's request for it waiting (not granted); live clock.
        const b = yield* Deferred.await(bPid)
        const waiting = yield* sql<{ n: number }>`
          select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and pid = ${b}`.pipe(
          Effect.map(([row]) => row?.n ?? 0),
          Effect.delay("10 millis"),
          Effect.repeat({ until: (n) => n === 1, times: 300 })
        )
        order.push(waiting === 1 ? "A saw B waiting" : "A never saw B waiting")
        const [last] = yield* sql<{ at: Date }>`select clock_timestamp() as at`
        return { pid: me!.pid, lastStatementAt: last!.at }
      }))

      const b = sql.withTransaction(Effect.gen(function*() {
        yield* Deferred.await(aLocked)
        const [me] = yield* sql<{ pid: number }>`select pg_backend_pid() as pid`
        yield* Deferred.succeed(bPid, me!.pid)
        const [locked] = yield* sql<{ at: Date }>`
          select clock_timestamp() as at from (select pg_advisory_xact_lock(hashtext(${key}))) as l`
        order.push("B locked")
        return { pid: me!.pid, lockedAt: locked!.at }
      }))

      const fa = yield* Effect.fork(a)
      const fb = yield* Effect.fork(b)
      const ra = yield* Fiber.join(fa)
      const rb = yield* Fiber.join(fb)

      expect(ra.pid).not.toBe(rb.pid)
      expect(order).toEqual(["A locked", "A saw B waiting", "B locked"])
      // Server clock: B got the lock after A's last statement, i.e. at A's commit.
      expect(rb.lockedAt.getTime()).toBeGreaterThanOrEqual(ra.lastStatementAt.getTime())
      // The lock went with A's transaction: nothing is held once both are done.
      const [held] = yield* sql<{ n: number }>`
        select count(*)::int as n from pg_locks where locktype = 'advisory' and pid in (${ra.pid}, ${rb.pid})`
      expect(held!.n).toBe(0)
    }).pipe(Effect.provide(PgLive)))
})

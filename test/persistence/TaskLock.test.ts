import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, TestClock } from "effect"
import { LockHolder } from "../../src/domain/Records.js"
import { ProcessInfo } from "../../src/persistence/ProcessInfo.js"
import { hostTag } from "../../src/persistence/AtomicFile.js"
import { TaskLock } from "../../src/persistence/TaskLock.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { captureLogs, fakeProcessInfo, HOST, memoryPersistence, SELF_PID } from "../support/PersistenceTestLayers.js"

const LOCK = "/repo/.runs/t1.lock"
const holderJson = (pid: number, host = HOST, acquired_at = "1970-01-01T00:00:00.000Z") =>
  JSON.stringify(LockHolder.make({ pid, host, token: "their-token", acquired_at }))

const lockWrites = Effect.map(MemoryFileSystem, (mem) => mem.operations).pipe(
  Effect.flatten,
  Effect.map((ops) => ops.filter((op) => op.path === LOCK && op.operation === "link").map((op) => op.atMillis))
)

/** The lock taken with no wait at all: a takeover that fails to happen shows as a fiber still waiting. */
const takenWithoutWaiting = Effect.gen(function*() {
  const fiber = yield* Effect.fork(Effect.scoped(Effect.flatMap(TaskLock, (lock) => lock.acquire("t1"))))
  // Less than the first retry's shortest wait (80 ms).
  yield* TestClock.adjust(50)
  const exit = yield* Fiber.poll(fiber)
  expect(Option.isSome(exit)).toBe(true)
  return yield* Fiber.join(fiber)
})

describe("TaskLock", () => {
  it.scoped("writes its holder while the scope is open and removes the lock when it closes", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const holder = yield* Effect.scoped(
        Effect.gen(function*() {
          const holder = yield* (yield* TaskLock).acquire("t1")
          const written = yield* mem.readString(LOCK)
          expect(Option.map(written, (text) => JSON.parse(text))).toEqual(
            Option.some({ pid: SELF_PID, host: HOST, token: holder.token, acquired_at: "1970-01-01T00:00:00.000Z" })
          )
          return holder
        })
      )
      expect(holder.token).toMatch(/^[0-9a-f]{32}$/)
      expect(yield* mem.files("/repo")).toEqual([])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a live holder is waited on with jittered backoff; exhaustion comes before 3 s with the holder named", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const logs = yield* captureLogs
      yield* mem.seed(LOCK, holderJson(77))
      const fiber = yield* Effect.fork(
        Effect.scoped((yield* TaskLock).acquire("t1")).pipe(Effect.provide(logs.layer), Logger.withMinimumLogLevel(LogLevel.Debug))
      )
      yield* TestClock.adjust(1999)
      const exit = yield* Fiber.poll(fiber)
      expect(Option.isSome(exit)).toBe(true)
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toMatchObject({
        _tag: "TaskStateStoreLockError",
        taskId: "t1",
        attempts: 5,
        lockPath: LOCK,
        holder: { pid: 77, host: HOST, acquired_at: "1970-01-01T00:00:00.000Z" }
      })
      const at = yield* lockWrites
      expect(at).toHaveLength(5)
      const waits = at.slice(1).map((t, i) => t - at[i]!)
      waits.forEach((wait, i) => {
        expect(wait).toBeGreaterThanOrEqual(100 * 2 ** i * 0.8)
        expect(wait).toBeLessThanOrEqual(100 * 2 ** i * 1.2)
      })
      expect(at[4]!).toBeLessThan(3000)
      // Waiting is ordinary: each attempt is detail, and what the caller does about the error is its one warning.
      const attempts = logs.lines.filter((line) => line.level === "DEBUG").map((line) => line.message)
      expect(attempts.map((m) => /attempt (\d) of 5/.exec(m)?.[1])).toEqual(["1", "2", "3", "4", "5"])
      expect(logs.lines.filter((line) => line.level === "WARN")).toEqual([])
      expect(error.message).toContain("through 5 attempts")
      expect(yield* mem.readString(LOCK)).toEqual(Option.some(holderJson(77)))
    }).pipe(Effect.provide(memoryPersistence({ processes: fakeProcessInfo({ alive: [77] }) }))))

  it.effect("a lock released by its holder mid-way is then acquired", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const mem = yield* MemoryFileSystem
      yield* mem.seed(LOCK, holderJson(77))
      const fiber = yield* Effect.fork(Effect.scoped((yield* TaskLock).acquire("t1")))
      yield* TestClock.adjust(250)
      yield* fs.remove(LOCK)
      yield* TestClock.adjust(3000)
      const holder = yield* Fiber.join(fiber)
      expect(holder.pid).toBe(SELF_PID)
      expect((yield* lockWrites).length).toBeGreaterThanOrEqual(3)
      expect(yield* mem.files("/repo")).toEqual([])
    }).pipe(Effect.provide(memoryPersistence({ processes: fakeProcessInfo({ alive: [77] }) }))))

  it.effect("interruption while holding the lock releases it; interruption while waiting leaves the other's lock", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const lock = yield* TaskLock
      const holding = yield* Effect.fork(Effect.scoped(Effect.zipRight(lock.acquire("t1"), Effect.never)))
      yield* TestClock.adjust(10)
      expect(Option.isSome(yield* mem.readString(LOCK))).toBe(true)
      const waiting = yield* Effect.fork(Effect.scoped(lock.acquire("t1")))
      yield* TestClock.adjust(150)
      yield* Fiber.interrupt(waiting)
      expect(Option.isSome(yield* mem.readString(LOCK))).toBe(true)
      yield* Fiber.interrupt(holding)
      expect(yield* mem.files("/repo")).toEqual([])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a lock whose holder on this host is dead is taken over at once", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.seed(LOCK, holderJson(99))
      const holder = yield* takenWithoutWaiting
      expect(holder.pid).toBe(SELF_PID)
      expect(yield* lockWrites).toEqual([0, 0])
      expect(yield* mem.files("/repo")).toEqual([])
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a reused pid (started after the lock was taken) does not keep the lock alive", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.seed(LOCK, holderJson(77, HOST, "2026-01-01T00:00:00.000Z"))
      const holder = yield* takenWithoutWaiting
      expect(holder.pid).toBe(SELF_PID)
    }).pipe(Effect.provide(memoryPersistence({
      processes: fakeProcessInfo({ alive: [77], startedAt: { 77: Date.UTC(2026, 0, 1, 0, 5) } })
    }))))

  it.effect("a lock from another host is not taken over, even when its pid is not running here", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.seed(LOCK, holderJson(99, "other-host"))
      const fiber = yield* Effect.fork(Effect.scoped((yield* TaskLock).acquire("t1")))
      yield* TestClock.adjust(3000)
      // Given up within its 3 s budget: a retry that never stops fails here, not at the test's timeout.
      const exit = yield* Fiber.poll(fiber)
      expect(Option.isSome(exit)).toBe(true)
      expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ _tag: "TaskStateStoreLockError", attempts: 5 })
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("the lock appears whole: its holder is linked into place from a temp file, swept once its writer is dead", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const lock = yield* TaskLock
      const deadTemp = `/repo/.runs/.t1.lock.99.${hostTag(HOST)}.0123456789abcdef.tmp`
      const liveTemp = `/repo/.runs/.t1.lock.77.${hostTag(HOST)}.0123456789abcdef.tmp`
      yield* mem.seed(deadTemp, holderJson(99))
      yield* mem.seed(liveTemp, holderJson(77))
      yield* Effect.scoped(Effect.gen(function*() {
        yield* lock.acquire("t1")
        const created = (yield* mem.operations).filter((op) => op.path === LOCK && ["writeFile", "link"].includes(op.operation))
        expect(created.map((op) => op.operation)).toEqual(["link"])
      }))
      expect(yield* mem.files("/repo")).toEqual([liveTemp])
    }).pipe(Effect.provide(memoryPersistence({ processes: fakeProcessInfo({ alive: [77] }) }))))

  it.effect("an unreadable lock counts as held until its file is 5 minutes old", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const lock = yield* TaskLock
      yield* TestClock.adjust("10 minutes")
      yield* mem.seed(LOCK, "", { mtimeMs: 10 * 60_000 - 60_000 })
      const fiber = yield* Effect.fork(Effect.scoped(lock.acquire("t1")))
      yield* TestClock.adjust(3000)
      expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ holder: { unreadable: true }, attempts: 5 })
      yield* mem.setMtime(LOCK, 0)
      const holder = yield* Effect.scoped(lock.acquire("t1"))
      expect(holder.pid).toBe(SELF_PID)
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("release leaves a lock that no longer carries our token", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const mem = yield* MemoryFileSystem
      yield* Effect.scoped(Effect.gen(function*() {
        yield* (yield* TaskLock).acquire("t1")
        yield* fs.writeFileString(LOCK, holderJson(99))
      }))
      expect(yield* mem.readString(LOCK)).toEqual(Option.some(holderJson(99)))
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("holders never overlap: many fibers taking the lock in turn", () =>
    Effect.gen(function*() {
      const lock = yield* TaskLock
      let inside = 0
      let maxInside = 0
      const exits = yield* Effect.forEach(Array.from({ length: 4 }, (_, i) => i), () =>
        Effect.scoped(Effect.gen(function*() {
          yield* lock.acquire("t1")
          inside++
          maxInside = Math.max(maxInside, inside)
          yield* Effect.sleep(50)
          inside--
        })).pipe(Effect.exit), { concurrency: "unbounded" }).pipe(
          Effect.fork,
          Effect.tap(() => TestClock.adjust(5000)),
          Effect.flatMap(Fiber.join)
        )
      expect(maxInside).toBe(1)
      expect(exits.filter(Exit.isSuccess).length).toBeGreaterThanOrEqual(2)
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a lock replaced between the stale judgement and the takeover is left to its new holder", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.seed(LOCK, holderJson(99))
      const fiber = yield* Effect.fork(Effect.scoped((yield* TaskLock).acquire("t1")))
      yield* TestClock.adjust(100)
      expect(yield* mem.readString(LOCK)).toEqual(Option.some(holderJson(77)))
      yield* TestClock.adjust(3000)
      expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ _tag: "TaskStateStoreLockError", holder: { pid: 77 } })
      expect(yield* mem.readString(LOCK)).toEqual(Option.some(holderJson(77)))
      expect(yield* mem.files("/repo/.runs")).toEqual([LOCK])
    }).pipe(Effect.provide(memoryPersistence({
      // pid 99 exits after releasing, and pid 77 takes the lock, just as we conclude 99 is dead.
      processes: Layer.effect(ProcessInfo, Effect.map(MemoryFileSystem, (mem) => ({
        pid: SELF_PID,
        hostname: HOST,
        isAlive: (pid: number) =>
          pid === 99 ? Effect.as(mem.seed(LOCK, holderJson(77)), false) : Effect.succeed(pid === SELF_PID || pid === 77),
        startedAtMillis: () => Effect.succeed(Option.none()),
        groupAlive: () => Effect.succeed(false),
        signalGroup: () => Effect.void
      })))
    }))))

  it.effect("a takeover marker left by a crashed process blocks takeovers only until it is 10 s old", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      yield* mem.seed(LOCK, holderJson(99))
      yield* mem.seed(`${LOCK}.takeover`, "1@crashed\n")
      const fiber = yield* Effect.fork(Effect.scoped((yield* TaskLock).acquire("t1")))
      yield* TestClock.adjust(1000)
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* mem.setMtime(`${LOCK}.takeover`, -20_000)
      yield* TestClock.adjust(3000)
      expect((yield* Fiber.join(fiber)).pid).toBe(SELF_PID)
      expect(yield* mem.files("/repo")).toEqual([])
    }).pipe(Effect.provide(memoryPersistence())))
})

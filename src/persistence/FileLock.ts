import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Clock, Context, Data, Effect, Either, Layer, Option, Schema, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import type { LockHolderInfo, PersistenceError } from "../domain/Errors.js"
import { LockHolder, LockHolderJson } from "../domain/Records.js"
import { nowIso } from "../domain/Timestamp.js"
import { hostTag } from "./AtomicFile.js"
import { Directories } from "./Directories.js"
import { isAlreadyExists, isNotFound, toPersistenceError } from "./PlatformFailure.js"
import { ProcessInfo } from "./ProcessInfo.js"

/** The lock is held by someone else: what its file says of them (null when it vanished or changed meanwhile). */
export class LockBusy extends Data.TaggedError("LockBusy")<{ readonly holder: LockHolderInfo | null }> {}

export interface FileLockShape {
  /** Released by token when the scope closes; a holder that is provably gone is taken over at once. */
  readonly acquire: (lockPath: string) => Effect.Effect<LockHolder, LockBusy | PersistenceError, Scope.Scope>
}

/** A lock that cannot be read is someone's lock being written, until it is this old (CONTRACT §8). */
export const UNREADABLE_LOCK_GRACE_MS = 5 * 60 * 1000
const ABANDONED_TAKEOVER_MS = 10 * 1000
/** /proc start times are derived from a boot time in whole seconds. */
const START_TIME_SLACK_MS = 1000

type Inspection =
  | { readonly _tag: "Held"; readonly holder: LockHolderInfo }
  | { readonly _tag: "Stale"; readonly raw: string; readonly why: string }
  | { readonly _tag: "Gone" }

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const decodeHolder = Schema.decodeUnknownEither(LockHolderJson)
const encodeHolder = Schema.encodeSync(LockHolderJson)

export const describeHolder = (holder: LockHolderInfo | null): string =>
  holder === null
    ? "an unknown holder"
    : holder.unreadable === true
    ? "an unreadable lock file"
    : `pid ${holder.pid ?? "?"} on ${holder.host ?? "?"} since ${holder.acquired_at ?? "?"}`

/** The task state lock and the owner of a run directory are both one (CONTRACT §4, §8). */
export class FileLock extends Context.Tag("codex-orchestrator/FileLock")<FileLock, FileLockShape>() {
  static readonly layer: Layer.Layer<FileLock, never, FileSystem.FileSystem | Path.Path | ProcessInfo | Directories> =
    Layer.effect(
      FileLock,
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const processes = yield* ProcessInfo
        const directories = yield* Directories
        const ownTag = `${processes.pid}.${hostTag(processes.hostname)}`

        const ageOf = (file: string) =>
          Effect.gen(function*() {
            const info = yield* fs.stat(file)
            const now = yield* Clock.currentTimeMillis
            return now - Option.getOrElse(Option.map(info.mtime, (date) => date.getTime()), () => now)
          })

        const inspect = (lockPath: string) =>
          Effect.gen(function*() {
            const raw = yield* fs.readFileString(lockPath)
            const decoded = decodeHolder(raw)
            if (Either.isLeft(decoded)) {
              const age = yield* ageOf(lockPath)
              return age >= UNREADABLE_LOCK_GRACE_MS
                ? { _tag: "Stale", raw, why: `unreadable for ${Math.round(age / 1000)} s` } as const
                : { _tag: "Held", holder: { unreadable: true } } as const
            }
            const holder = decoded.right
            const known: LockHolderInfo = { pid: holder.pid, host: holder.host, acquired_at: holder.acquired_at }
            if (holder.host !== processes.hostname) return { _tag: "Held", holder: known } as const
            if (!(yield* processes.isAlive(holder.pid))) return { _tag: "Stale", raw, why: `pid ${holder.pid} is not running` } as const
            const started = yield* processes.startedAtMillis(holder.pid)
            if (Option.isSome(started) && started.value > Date.parse(holder.acquired_at) + START_TIME_SLACK_MS) {
              return { _tag: "Stale", raw, why: `pid ${holder.pid} was reused by a process started after the lock was taken` } as const
            }
            return { _tag: "Held", holder: known } as const
          }).pipe(Effect.catchIf(isNotFound, () => Effect.succeed<Inspection>({ _tag: "Gone" })))

        const removeQuietly = (file: string, what: string) =>
          fs.remove(file, { force: true }).pipe(
            Effect.catchAll((error) => Effect.logWarning(`could not remove ${what} ${file}: ${error.message}`))
          )

        /** A marker is held for milliseconds; one this old was left by a process that died mid-takeover. */
        const removeAbandonedMarker = (marker: string) =>
          Effect.gen(function*() {
            const age = yield* ageOf(marker)
            if (age < ABANDONED_TAKEOVER_MS) return false
            yield* fs.remove(marker, { force: true })
            yield* Effect.logDebug(`removed takeover marker ${marker}, abandoned ${Math.round(age / 1000)} s ago`)
            return true
          }).pipe(Effect.catchIf(isNotFound, () => Effect.succeed(true)))

        // Serialised through an exclusive marker; the winner removes the lock only if it is still the very
        // file judged stale, so a live lock is never moved and one dead lock is never removed twice.
        const takeOver = (lockPath: string, raw: string, why: string) =>
          Effect.gen(function*() {
            const marker = `${lockPath}.takeover`
            const claim = fs.writeFile(marker, new TextEncoder().encode(`${processes.pid}@${processes.hostname}\n`), { flag: "wx" }).pipe(
              Effect.as(true),
              Effect.catchIf(isAlreadyExists, () => Effect.succeed(false))
            )
            const claimed = (yield* claim) || ((yield* removeAbandonedMarker(marker)) && (yield* claim))
            if (!claimed) return false
            return yield* Effect.gen(function*() {
              const again = yield* inspect(lockPath)
              if (again._tag === "Gone") return true
              if (again._tag !== "Stale" || again.raw !== raw) return false
              yield* fs.remove(lockPath)
              yield* Effect.logDebug(`lock ${lockPath}: took over a stale lock (${why})`)
              return true
            }).pipe(Effect.ensuring(removeQuietly(marker, "takeover marker")))
          })

        /** Hard-linked from a temp file, which fails when the lock exists: the lock appears whole or not at all. */
        const create = (lockPath: string, holder: LockHolder) =>
          Effect.gen(function*() {
            yield* directories.ensure(path.dirname(lockPath))
            const temp = path.join(path.dirname(lockPath), `.${path.basename(lockPath)}.${ownTag}.${randomBytes(8).toString("hex")}.tmp`)
            yield* fs.writeFile(temp, new TextEncoder().encode(encodeHolder(holder)), { flag: "wx" })
            return yield* fs.link(temp, lockPath).pipe(
              Effect.as(true),
              Effect.catchIf(isAlreadyExists, () => Effect.succeed(false)),
              Effect.ensuring(removeQuietly(temp, "temporary lock file"))
            )
          })

        /** Temp files of holders killed before their link: named after their writer, swept once it is dead. */
        const sweepDeadTemps = (lockPath: string) =>
          Effect.gen(function*() {
            const dir = path.dirname(lockPath)
            const pattern = new RegExp(`^\\.${escapeRegExp(path.basename(lockPath))}\\.(\\d+)\\.${hostTag(processes.hostname)}\\.[0-9a-f]{16}\\.tmp$`)
            for (const name of yield* fs.readDirectory(dir)) {
              const pid = Number(pattern.exec(name)?.[1] ?? Number.NaN)
              if (Number.isNaN(pid) || pid === processes.pid || (yield* processes.isAlive(pid))) continue
              yield* fs.remove(path.join(dir, name), { force: true })
              yield* Effect.logDebug(`removed temporary lock file ${name}, whose writer is no longer running`)
            }
          }).pipe(
            Effect.catchIf(isNotFound, () => Effect.void),
            Effect.catchAll((error) => Effect.logWarning(`could not sweep temporary lock files beside ${lockPath}: ${error.message}`))
          )

        const attempt = (lockPath: string) =>
          Effect.gen(function*() {
            const holder = LockHolder.make({
              pid: processes.pid,
              host: processes.hostname,
              token: randomBytes(16).toString("hex"),
              acquired_at: yield* nowIso
            })
            if (yield* create(lockPath, holder)) return holder
            const found = yield* inspect(lockPath)
            if (found._tag === "Held") return yield* new LockBusy({ holder: found.holder })
            if (found._tag === "Stale" && !(yield* takeOver(lockPath, found.raw, found.why))) return yield* new LockBusy({ holder: null })
            if (yield* create(lockPath, holder)) return holder
            return yield* new LockBusy({ holder: null })
          }).pipe(
            Effect.catchTags({
              BadArgument: (error) => Effect.fail(toPersistenceError("lock", lockPath)(error)),
              SystemError: (error) => Effect.fail(toPersistenceError("lock", lockPath)(error))
            })
          )

        const release = (lockPath: string, holder: LockHolder) =>
          Effect.gen(function*() {
            const current = Either.getRight(decodeHolder(yield* fs.readFileString(lockPath)))
            if (Option.isSome(current) && current.value.token === holder.token) yield* fs.remove(lockPath)
            else yield* Effect.logWarning(`lock ${lockPath} no longer carries our token; left in place`)
          }).pipe(
            Effect.catchIf(isNotFound, () => Effect.logWarning(`lock ${lockPath} was already gone at release`)),
            Effect.catchAll((error) => Effect.logError(`could not release lock ${lockPath}: ${error.message}`))
          )

        const acquire = (lockPath: string) =>
          Effect.zipRight(
            sweepDeadTemps(lockPath),
            Effect.acquireRelease(attempt(lockPath), (holder) => release(lockPath, holder))
          )

        return { acquire }
      })
    )
}

import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Clock, Context, Effect, Layer, Option, Ref } from "effect"
import { createHash, randomBytes } from "node:crypto"
import type { PersistenceError } from "../domain/Errors.js"
import { Directories } from "./Directories.js"
import { isNotFound, toPersistenceError } from "./PlatformFailure.js"
import { ProcessInfo } from "./ProcessInfo.js"

export interface AtomicWriteOptions {
  /** fsync the file and its directory: a power cut then loses nothing that `write` returned for. */
  readonly durable?: boolean
  readonly mode?: number
}

export interface AtomicFileShape {
  /** Replaces `path` so that a reader or a crash sees the old content or the new, never a mix. */
  readonly write: (
    path: string,
    data: string | Uint8Array,
    options?: AtomicWriteOptions
  ) => Effect.Effect<void, PersistenceError>
  /** `write` sweeps its own directory; one that no run writes to again is swept by the next run through this. */
  readonly sweep: (dir: string) => Effect.Effect<void>
}

// `.<name>.<pid>.<host: 8 hex>.<16 hex>.tmp`, so a later process can tell that the writer is dead;
// `.<name>.<16 hex>.tmp` is the older form without a writer.
const TEMP_NAME = /^\..+?(?:\.(\d+)\.([0-9a-f]{8}))?\.[0-9a-f]{16}\.tmp$/
/** Long past any write in progress: only a crashed writer leaves a temp file this old (the rule when the writer is unknown). */
export const ORPHAN_AGE_MS = 10 * 60 * 1000
/** A directory is swept at most this often per process, so a heartbeat does not list its directory every tick. */
const SWEEP_INTERVAL_MS = 60 * 1000

const encoder = new TextEncoder()

export const hostTag = (hostname: string): string => createHash("sha256").update(hostname).digest("hex").slice(0, 8)

export class AtomicFile extends Context.Tag("codex-orchestrator/AtomicFile")<AtomicFile, AtomicFileShape>() {
  static readonly layer: Layer.Layer<AtomicFile, never, FileSystem.FileSystem | Path.Path | ProcessInfo | Directories> = Layer.effect(
    AtomicFile,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const processes = yield* ProcessInfo
      const directories = yield* Directories
      // On first use: hashing loads node:crypto's hash, a few ms that a command writing nothing need not pay.
      let host: string | undefined
      const ownHost = () => (host ??= hostTag(processes.hostname))
      const lastSwept = yield* Ref.make(new Map<string, number>())

      const writerOnThisHost = (name: string): Option.Option<number> => {
        const match = TEMP_NAME.exec(name)
        return match?.[1] !== undefined && match[2] === ownHost() ? Option.some(Number(match[1])) : Option.none()
      }

      const writerIsDead = (name: string) =>
        Option.match(writerOnThisHost(name), {
          onNone: () => Effect.succeed(false),
          onSome: (pid) => pid === processes.pid ? Effect.succeed(false) : Effect.map(processes.isAlive(pid), (alive) => !alive)
        })

      const removeOrphan = (dir: string, name: string, now: number) =>
        Effect.gen(function*() {
          const file = path.join(dir, name)
          if (yield* writerIsDead(name)) {
            yield* fs.remove(file)
            return yield* Effect.logInfo(`removed temporary file ${file}, whose writer is no longer running`)
          }
          const info = yield* fs.stat(file)
          const age = now - Option.getOrElse(Option.map(info.mtime, (date) => date.getTime()), () => now)
          if (age > ORPHAN_AGE_MS) {
            yield* fs.remove(file)
            yield* Effect.logInfo(`removed orphaned temporary file ${file}`)
          }
        }).pipe(Effect.catchIf(isNotFound, () => Effect.void))

      /** Best effort: a sweep that fails is logged and never fails the write that triggered it. */
      const sweep = (dir: string) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const due = yield* Ref.modify(lastSwept, (seen) => {
            const last = seen.get(dir)
            if (last !== undefined && now - last < SWEEP_INTERVAL_MS) return [false, seen] as const
            return [true, new Map(seen).set(dir, now)] as const
          })
          if (!due) return
          const names = yield* fs.readDirectory(dir)
          yield* Effect.forEach(
            names.filter((name) => TEMP_NAME.test(name)),
            (name) => removeOrphan(dir, name, now),
            { discard: true }
          )
        }).pipe(
          Effect.catchIf(isNotFound, () => Effect.void),
          Effect.catchAll((error) => Effect.logWarning(`could not sweep temporary files in ${dir}: ${error.message}`))
        )

      const writeTemp = (temp: string, bytes: Uint8Array, options: AtomicWriteOptions) =>
        options.durable === true
          ? Effect.scoped(
            Effect.gen(function*() {
              const file = yield* fs.open(temp, { flag: "wx", ...(options.mode === undefined ? {} : { mode: options.mode }) })
              yield* file.writeAll(bytes)
              yield* file.sync
            })
          )
          : fs.writeFile(temp, bytes, { flag: "wx", ...(options.mode === undefined ? {} : { mode: options.mode }) })

      const syncDirectory = (dir: string) =>
        Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (handle) => handle.sync))

      const write = Effect.fnUntraced(function*(
        target: string,
        data: string | Uint8Array,
        options: AtomicWriteOptions = {}
      ) {
        const dir = path.dirname(target)
        const bytes = typeof data === "string" ? encoder.encode(data) : data
        yield* directories.ensure(dir)
        yield* sweep(dir)
        const temp = path.join(dir, `.${path.basename(target)}.${processes.pid}.${ownHost()}.${randomBytes(8).toString("hex")}.tmp`)
        yield* Effect.gen(function*() {
          yield* writeTemp(temp, bytes, options).pipe(
            // The directory was made earlier in this process and removed since: make it again, once.
            Effect.catchIf(isNotFound, () => {
              directories.forget(dir)
              return Effect.zipRight(directories.ensure(dir), writeTemp(temp, bytes, options))
            }),
            Effect.mapError((error) => error._tag === "PersistenceError" ? error : toPersistenceError("write", temp)(error))
          )
          if (options.mode !== undefined) {
            // open(2) applies the umask; the mode asked for (0600 for a token) must be exact.
            yield* fs.chmod(temp, options.mode).pipe(Effect.mapError(toPersistenceError("chmod", temp)))
          }
          yield* fs.rename(temp, target).pipe(Effect.mapError(toPersistenceError("rename", target)))
        }).pipe(
          Effect.onError(() =>
            fs.remove(temp, { force: true }).pipe(
              Effect.catchAll((error) => Effect.logWarning(`could not remove temporary file ${temp}: ${error.message}`))
            )
          )
        )
        if (options.durable === true) {
          yield* syncDirectory(dir).pipe(Effect.mapError(toPersistenceError("fsync directory", dir)))
        }
      })

      return { write, sweep }
    })
  )
}

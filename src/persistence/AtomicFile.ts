import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Clock, Context, Effect, Layer, Option, Ref } from "effect"
import { randomBytes } from "node:crypto"
import type { PersistenceError } from "../domain/Errors.js"
import { isNotFound, toPersistenceError } from "./PlatformFailure.js"

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
}

/** Temp files are `.<name>.<16 hex>.tmp` beside their target. */
const TEMP_NAME = /^\..+\.[0-9a-f]{16}\.tmp$/
/** Long past any write in progress: only a crashed writer leaves a temp file this old. */
export const ORPHAN_AGE_MS = 10 * 60 * 1000
/** A directory is swept at most this often per process, so a heartbeat does not list its directory every tick. */
const SWEEP_INTERVAL_MS = 60 * 1000

const encoder = new TextEncoder()

export class AtomicFile extends Context.Tag("codex-orchestrator/AtomicFile")<AtomicFile, AtomicFileShape>() {
  static readonly Live: Layer.Layer<AtomicFile, never, FileSystem.FileSystem | Path.Path> = Layer.effect(
    AtomicFile,
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const lastSwept = yield* Ref.make(new Map<string, number>())

      const removeOrphan = (file: string, now: number) =>
        fs.stat(file).pipe(
          Effect.flatMap((info) => {
            const age = now - Option.getOrElse(Option.map(info.mtime, (date) => date.getTime()), () => now)
            return age > ORPHAN_AGE_MS
              ? Effect.zipRight(fs.remove(file), Effect.logInfo(`removed orphaned temporary file ${file}`))
              : Effect.void
          }),
          Effect.catchIf(isNotFound, () => Effect.void)
        )

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
            (name) => removeOrphan(path.join(dir, name), now),
            { discard: true }
          )
        }).pipe(
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

      const write = Effect.fn("AtomicFile.write")(function*(
        target: string,
        data: string | Uint8Array,
        options: AtomicWriteOptions = {}
      ) {
        const dir = path.dirname(target)
        const bytes = typeof data === "string" ? encoder.encode(data) : data
        yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(toPersistenceError("create directory", dir)))
        yield* sweep(dir)
        const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(8).toString("hex")}.tmp`)
        yield* Effect.gen(function*() {
          yield* writeTemp(temp, bytes, options).pipe(Effect.mapError(toPersistenceError("write", temp)))
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

      return { write }
    })
  )
}

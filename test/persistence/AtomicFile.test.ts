import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, TestClock } from "effect"
import { AtomicFile, hostTag } from "../../src/persistence/AtomicFile.js"
import { Directories } from "../../src/persistence/Directories.js"
import { ProcessInfo } from "../../src/persistence/ProcessInfo.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { fakeProcessInfo, HOST, SELF_PID } from "../support/PersistenceTestLayers.js"

const NodeLayer = NodeContext.layer
const TestLayer = AtomicFile.layer.pipe(
  Layer.provideMerge(Directories.layer),
  Layer.provideMerge(fakeProcessInfo({ alive: [77] })),
  Layer.provideMerge(MemoryFileSystem.layer),
  Layer.provideMerge(Path.layer)
)

describe("AtomicFile", () => {
  it.effect("creates the directory and replaces the file", () =>
    Effect.gen(function*() {
      const atomic = yield* AtomicFile
      const mem = yield* MemoryFileSystem
      yield* atomic.write("/out/t/state.json", "one")
      yield* atomic.write("/out/t/state.json", "two", { durable: true, mode: 0o600 })
      expect(yield* mem.readString("/out/t/state.json")).toEqual(Option.some("two"))
      expect(yield* mem.mode("/out/t/state.json")).toEqual(Option.some(0o600))
      expect(yield* mem.files("/out")).toEqual(["/out/t/state.json"])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("durable writes fsync the temporary file and the directory before returning", () =>
    Effect.gen(function*() {
      const atomic = yield* AtomicFile
      const mem = yield* MemoryFileSystem
      yield* atomic.write("/d/f", "x", { durable: true })
      const ops = (yield* mem.operations).map((op) => op.operation).filter((op) => ["sync", "rename"].includes(op))
      expect(ops).toEqual(["sync", "rename", "sync"])
    }).pipe(Effect.provide(TestLayer)))

  for (const [operation, reason] of [["rename", "EIO"], ["writeFile", "ENOSPC"], ["chmod", "EACCES"]] as const) {
    it.effect(`a failing ${operation} (${reason}) leaves the old file intact and no temporary file`, () =>
      Effect.gen(function*() {
        const atomic = yield* AtomicFile
        const mem = yield* MemoryFileSystem
        yield* mem.seed("/d/state.json", "previous")
        yield* mem.failNext(operation, (path) => path.startsWith("/d/"), reason)
        const error = yield* Effect.flip(atomic.write("/d/state.json", "next", { mode: 0o644 }))
        expect(error._tag).toBe("PersistenceError")
        expect(error.message).toContain(reason)
        expect(yield* mem.readString("/d/state.json")).toEqual(Option.some("previous"))
        expect(yield* mem.files("/d")).toEqual(["/d/state.json"])
      }).pipe(Effect.provide(TestLayer)))
  }

  it.effect("sweeps temporary files left by a crash once they are 10 minutes old, not younger ones", () =>
    Effect.gen(function*() {
      const atomic = yield* AtomicFile
      const mem = yield* MemoryFileSystem
      yield* TestClock.adjust("1 hour")
      const now = 3_600_000
      yield* mem.seed("/d/.state.json.0123456789abcdef.tmp", "crashed", { mtimeMs: now - 11 * 60_000 })
      yield* mem.seed("/d/.state.json.fedcba9876543210.tmp", "in flight", { mtimeMs: now - 60_000 })
      yield* mem.seed("/d/notes.tmp", "not ours", { mtimeMs: 0 })
      yield* atomic.write("/d/state.json", "new")
      expect(yield* mem.files("/d")).toEqual(["/d/.state.json.fedcba9876543210.tmp", "/d/notes.tmp", "/d/state.json"])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("sweeps at once the temporary files of a writer that is dead on this host", () =>
    Effect.gen(function*() {
      const atomic = yield* AtomicFile
      const mem = yield* MemoryFileSystem
      const here = hostTag(HOST)
      yield* mem.seed(`/d/.manifest.json.99.${here}.0123456789abcdef.tmp`, "killed writer")
      yield* mem.seed(`/d/.manifest.json.77.${here}.1123456789abcdef.tmp`, "live writer")
      yield* mem.seed(`/d/.manifest.json.${SELF_PID}.${here}.2123456789abcdef.tmp`, "ours, in flight")
      yield* mem.seed(`/d/.manifest.json.99.${hostTag("elsewhere")}.3123456789abcdef.tmp`, "other host")
      yield* atomic.write("/d/manifest.json", "{}")
      expect(yield* mem.files("/d")).toEqual([
        `/d/.manifest.json.${SELF_PID}.${here}.2123456789abcdef.tmp`,
        `/d/.manifest.json.77.${here}.1123456789abcdef.tmp`,
        `/d/.manifest.json.99.${hostTag("elsewhere")}.3123456789abcdef.tmp`,
        "/d/manifest.json"
      ])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("names its temporary file after the writing process, so a later one can sweep it", () =>
    Effect.gen(function*() {
      const atomic = yield* AtomicFile
      const mem = yield* MemoryFileSystem
      yield* atomic.write("/d/f", "x")
      const created = (yield* mem.operations).filter((op) => op.operation === "writeFile").map((op) => op.path)
      expect(created).toEqual([expect.stringMatching(new RegExp(`^/d/\\.f\\.${SELF_PID}\\.${hostTag(HOST)}\\.[0-9a-f]{16}\\.tmp$`))])
    }).pipe(Effect.provide(TestLayer)))

  it.live("writes through the real file system", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const atomic = yield* AtomicFile
      const dir = yield* fs.makeTempDirectoryScoped()
      yield* atomic.write(`${dir}/a/b.json`, "{}", { durable: true, mode: 0o600 })
      expect(yield* fs.readFileString(`${dir}/a/b.json`)).toBe("{}")
      expect((yield* fs.stat(`${dir}/a/b.json`)).mode & 0o777).toBe(0o600)
      expect(yield* fs.readDirectory(`${dir}/a`)).toEqual(["b.json"])
    }).pipe(Effect.scoped, Effect.provide(AtomicFile.layer.pipe(Layer.provide(Directories.layer), Layer.provide(ProcessInfo.layer), Layer.provideMerge(NodeLayer)))))

  it.live("refuses a directory that cannot be made with one error naming it, where Node's recursive mkdir spins", () =>
    Effect.gen(function*() {
      const atomic = yield* AtomicFile
      const error = yield* Effect.flip(atomic.write("/proc/codex-nope/a/state.json", "{}"))
      expect(error).toMatchObject({ _tag: "PersistenceError", operation: "create directory" })
      expect(error.message).toContain("/proc/codex-nope")
    }).pipe(Effect.provide(AtomicFile.layer.pipe(Layer.provide(Directories.layer), Layer.provide(ProcessInfo.layer), Layer.provideMerge(NodeLayer)))))
})

import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"

const bytes = (text: string) => new TextEncoder().encode(text)

describe("MemoryFileSystem", () => {
  it.effect("exclusive create fails with AlreadyExists; a missing parent with NotFound", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      yield* fs.makeDirectory("/a/b", { recursive: true })
      yield* fs.writeFile("/a/b/f", bytes("one"), { flag: "wx" })
      const again = yield* Effect.flip(fs.writeFile("/a/b/f", bytes("two"), { flag: "wx" }))
      expect(again._tag === "SystemError" && again.reason).toBe("AlreadyExists")
      const orphan = yield* Effect.flip(fs.writeFile("/missing/f", bytes("x")))
      expect(orphan._tag === "SystemError" && orphan.reason).toBe("NotFound")
      expect(yield* fs.readFileString("/a/b/f")).toBe("one")
    }).pipe(Effect.provide(MemoryFileSystem.layer)))

  it.effect("rename replaces the target; readDirectory lists children; append appends", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const mem = yield* MemoryFileSystem
      yield* mem.seed("/d/target", "old")
      yield* mem.seed("/d/tmp", "new")
      yield* fs.rename("/d/tmp", "/d/target")
      expect(yield* fs.readFileString("/d/target")).toBe("new")
      expect(yield* fs.readDirectory("/d")).toEqual(["target"])
      yield* fs.writeFile("/d/target", bytes("+"), { flag: "a" })
      yield* Effect.scoped(Effect.flatMap(fs.open("/d/target", { flag: "a" }), (file) => file.writeAll(bytes("!"))))
      expect(yield* mem.readString("/d/target")).toEqual(Option.some("new+!"))
    }).pipe(Effect.provide(MemoryFileSystem.layer)))

  it.effect("injected faults carry the reason; mtime follows the TestClock; modes are kept", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const mem = yield* MemoryFileSystem
      yield* mem.failNext("writeFile", (path) => path.endsWith(".json"), "ENOSPC")
      yield* mem.failAlways("rename", () => true, "EACCES")
      const full = yield* Effect.flip(fs.writeFile("/x.json", bytes("{}")))
      expect(full.message).toContain("ENOSPC")
      yield* fs.writeFile("/x.json", bytes("{}"), { mode: 0o600 })
      const denied = yield* Effect.flip(fs.rename("/x.json", "/y.json"))
      expect(denied._tag === "SystemError" && denied.reason).toBe("PermissionDenied")
      yield* TestClock.adjust("10 minutes")
      yield* fs.writeFile("/z", bytes(""))
      const stat = yield* fs.stat("/z")
      expect(Option.map(stat.mtime, (d) => d.getTime())).toEqual(Option.some(600_000))
      expect(yield* mem.mode("/x.json")).toEqual(Option.some(0o600))
    }).pipe(Effect.provide(MemoryFileSystem.layer)))
})

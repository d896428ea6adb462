import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { RunManifestWriter } from "../../src/persistence/RunManifestWriter.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { memoryPersistence } from "../support/PersistenceTestLayers.js"
import { legacyPath } from "../support/LegacyFixtures.js"

const LEGACY = legacyPath(".runs/legacy-demo/cli/2026-11-29T20-37-54-514Z-8578f92a/manifest.json")

describe("RunManifestWriter", () => {
  it.effect("reads a legacy manifest and writes it back with the same fields", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const writer = yield* RunManifestWriter
      const legacyText = readFileSync(LEGACY, "utf8")
      yield* mem.seed("/m/manifest.json", legacyText)
      const manifest = yield* writer.read("/m/manifest.json")
      yield* writer.write("/m/copy.json", manifest, { durable: true })
      const copy = yield* writer.read("/m/copy.json")
      expect(copy).toEqual(manifest)
      const written = JSON.parse(yield* Effect.flatten(Effect.map(mem.readString("/m/copy.json"), Effect.orDie))) as object
      expect(Object.keys(written).sort()).toEqual(Object.keys(JSON.parse(legacyText) as object).sort())
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("refuses a manifest with a field v1 does not have", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const legacy = JSON.parse(readFileSync(LEGACY, "utf8")) as Record<string, unknown>
      yield* mem.seed("/m/manifest.json", JSON.stringify({ ...legacy, surprise: 1 }))
      const error = yield* Effect.flip((yield* RunManifestWriter).read("/m/manifest.json"))
      expect(error).toMatchObject({ _tag: "CorruptFileError", path: "/m/manifest.json" })
      expect(error.message).toContain("surprise")
    }).pipe(Effect.provide(memoryPersistence())))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { readFileSync } from "node:fs"
import { RunDirectory } from "../../src/persistence/RunDirectory.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"
import { fakeProcessInfo, HOST, memoryPersistence, SELF_PID } from "../support/PersistenceTestLayers.js"
import { legacyPath } from "../support/LegacyFixtures.js"

const RUN_ID = "2026-11-29T20-37-54-514Z-8578f92a"
const LEGACY = legacyPath(`.runs/legacy-demo/cli/${RUN_ID}/manifest.json`)
const SEEDED = `/repo/.runs/legacy-demo/cli/${RUN_ID}/manifest.json`

const seedManifest = (change: (manifest: Record<string, unknown>) => Record<string, unknown> = (m) => m) =>
  Effect.flatMap(MemoryFileSystem, (mem) =>
    mem.seed(SEEDED, JSON.stringify(change(JSON.parse(readFileSync(LEGACY, "utf8")) as Record<string, unknown>))))

describe("RunDirectory", () => {
  it.effect("finds a legacy run by id, reads it and writes it back with the same fields", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const runs = yield* RunDirectory
      yield* seedManifest()
      const place = yield* runs.locate(RUN_ID)
      expect(place.taskId).toBe("legacy-demo")
      const { manifest, paths } = yield* runs.read(place)
      yield* runs.writeManifest(paths, manifest, { final: true })
      expect((yield* runs.read(place)).manifest).toEqual(manifest)
      const written = JSON.parse(Option.getOrThrow(yield* mem.readString(SEEDED))) as object
      expect(Object.keys(written).sort()).toEqual(Object.keys(JSON.parse(readFileSync(LEGACY, "utf8")) as object).sort())
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("refuses a manifest with a field v1 does not have, or without one it needs, naming the field", () =>
    Effect.gen(function*() {
      const runs = yield* RunDirectory
      yield* seedManifest((m) => ({ ...m, surprise: 1 }))
      const place = yield* runs.locate(RUN_ID)
      const extra = yield* Effect.flip(runs.read(place))
      expect(extra).toMatchObject({ _tag: "CorruptFileError", path: SEEDED })
      expect(extra.message).toContain("surprise")
      yield* seedManifest((m) => {
        const commands = m["commands"] as Array<Record<string, unknown>>
        delete commands[0]!["title"]
        return m
      })
      const missing = yield* Effect.flip(runs.read(place))
      expect(missing.message).toMatch(/commands\[0\]\.title: is missing$/)
      expect(missing.message).not.toContain("\n")
    }).pipe(Effect.provide(memoryPersistence())))

  it.effect("a run has one live owner: a second is refused naming the first, a dead one is taken over", () =>
    Effect.gen(function*() {
      const mem = yield* MemoryFileSystem
      const runs = yield* RunDirectory
      yield* seedManifest()
      const place = yield* runs.locate(RUN_ID)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* runs.own(place)
        const busy = yield* Effect.flip(Effect.scoped(runs.own(place)))
        expect(busy).toMatchObject({ _tag: "RunBusyError", runId: RUN_ID, holder: { pid: SELF_PID, host: HOST } })
        expect(busy.message).toMatch(new RegExp(`^run ${RUN_ID} is being resumed by pid ${SELF_PID} on ${HOST}`))
      }))
      expect(Option.isNone(yield* mem.readString(place.paths.owner))).toBe(true)
      yield* mem.seed(place.paths.owner, JSON.stringify({ pid: 99, host: HOST, token: "t", acquired_at: "1970-01-01T00:00:00.000Z" }))
      expect(Exit.isSuccess(yield* Effect.exit(Effect.scoped(runs.own(place))))).toBe(true)
    }).pipe(Effect.provide(memoryPersistence({ processes: fakeProcessInfo() }))))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { ProjectConfig } from "../../src/domain/ProjectConfig.js"
import { decodeProjectConfig, Pipelines } from "../../src/run/Pipelines.js"

const config = (json: unknown) => Either.getOrThrow(decodeProjectConfig(JSON.stringify(json)))

const cmd = (id: string) => ({ kind: "command", id, title: id, command: "true" })
const sub = (id: string, pipeline: string) => ({ kind: "subpipeline", id, title: id, pipeline })

describe("Pipelines", () => {
  it.effect("falls back to the built-in diagnostics pipeline", () =>
    Effect.gen(function*() {
      const resolved = yield* Pipelines.fromConfig(ProjectConfig.make({}), "codex.orchestrator.json").resolve(undefined)
      expect(resolved.source).toBe("default")
      expect(resolved.pipeline.stages.map((s) => s.kind === "command" ? s.command : s.pipeline)).toEqual([
        "npm run build",
        "npm run lint",
        "npm run test",
        "bash scripts/spec-guard.sh --dry-run"
      ])
    }))

  it.effect("uses the config's defaultPipeline and lets a user pipeline shadow a built-in one", () =>
    Effect.gen(function*() {
      const pipelines = Pipelines.fromConfig(
        config({ defaultPipeline: "a", pipelines: [{ id: "a", title: "A", stages: [cmd("x")] }, { id: "diagnostics", title: "Mine", stages: [] }] }),
        "codex.orchestrator.json"
      )
      expect((yield* pipelines.resolve(undefined)).pipeline.id).toBe("a")
      const diagnostics = yield* pipelines.resolve("diagnostics")
      expect([diagnostics.source, diagnostics.pipeline.title]).toEqual(["user", "Mine"])
    }))

  it.effect("refuses an unknown pipeline, naming the ones it knows", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pipelines.fromConfig(ProjectConfig.make({}), "codex.orchestrator.json").resolve("nope"))
      expect(error.message).toBe("unknown pipeline 'nope'; known: diagnostics")
    }))

  it.effect("refuses a sub-pipeline cycle and an unknown sub-pipeline before anything runs", () =>
    Effect.gen(function*() {
      const pipelines = Pipelines.fromConfig(
        config({
          pipelines: [
            { id: "a", title: "A", stages: [cmd("x"), sub("to-b", "b")] },
            { id: "b", title: "B", stages: [sub("to-a", "a")] },
            { id: "c", title: "C", stages: [sub("to-ghost", "ghost")] }
          ]
        }),
        "codex.orchestrator.json"
      )
      expect((yield* Effect.flip(pipelines.resolve("a"))).message).toContain("sub-pipeline cycle a → b → a")
      expect((yield* Effect.flip(pipelines.resolve("c"))).message).toContain("unknown pipeline 'ghost' (sub-pipeline of c)")
    }))

  it.effect("refuses a lock retry policy whose waits reach 3 s", () =>
    Effect.gen(function*() {
      const pipelines = Pipelines.fromConfig(
        config({ persistence: { lockRetry: { maxAttempts: 10, initialDelayMs: 500 } } }),
        "codex.orchestrator.json"
      )
      const error = yield* Effect.flip(pipelines.resolve(undefined))
      expect(error.message).toMatch(/^codex\.orchestrator\.json: persistence\.lockRetry: waits add up to/)
    }))
})

describe("decodeProjectConfig", () => {
  it("names the path of the offending field", () => {
    const problem = (json: string) => Either.getLeft(decodeProjectConfig(json)).pipe((o) => o._tag === "Some" ? o.value : "")
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [{ kind: "command", id: "x", title: "X" }] }] })))
      .toBe("pipelines[0].stages[0].command: is missing")
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [{ ...cmd("x"), alowFailure: true }] }] })))
      .toMatch(/^pipelines\[0\]\.stages\[0\]\.alowFailure: is unexpected/)
    expect(problem("{\"pipelines\": [")).toMatch(/^is not a valid config: /)
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [{ ...cmd("x"), command: "echo a\u0000b" }] }] })))
      .toBe("pipelines[0].stages[0].command: must not contain a NUL character")
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [{ ...cmd("x"), env: { A: "\u0000" } }] }] })))
      .toBe("pipelines[0].stages[0].env.A: must not contain a NUL character")
  })

  it("accepts the legacy fixture's config", () => {
    const text = JSON.stringify({
      defaultPipeline: "simple",
      pipelines: [{ id: "simple", title: "Simple pipeline", stages: [cmd("echo-ok")] }]
    })
    expect(Either.isRight(decodeProjectConfig(text))).toBe(true)
  })
})

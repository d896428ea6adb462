import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { ProjectConfig } from "../../src/domain/ProjectConfig.js"
import { decodeProjectConfig } from "../../src/Project.js"
import { resolvePipeline } from "../../src/run/Pipelines.js"

const config = (json: unknown) => Either.getOrThrow(decodeProjectConfig(JSON.stringify(json)))

const cmd = (id: string) => ({ kind: "command", id, title: id, command: "true" })
const sub = (id: string, pipeline: string) => ({ kind: "subpipeline", id, title: id, pipeline })

describe("Pipelines", () => {
  it.effect("falls back to the built-in diagnostics pipeline", () =>
    Effect.gen(function*() {
      const resolved = yield* resolvePipeline(ProjectConfig.make({}), undefined)
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
      const resolve = (id: string | undefined) =>
        resolvePipeline(config({ defaultPipeline: "a", pipelines: [{ id: "a", title: "A", stages: [cmd("x")] }, { id: "diagnostics", title: "Mine", stages: [] }] }), id)
      expect((yield* resolve(undefined)).pipeline.id).toBe("a")
      const diagnostics = yield* resolve("diagnostics")
      expect([diagnostics.source, diagnostics.pipeline.title]).toEqual(["user", "Mine"])
    }))

  it.effect("refuses an unknown pipeline, naming the ones it knows", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolvePipeline(ProjectConfig.make({}), "nope"))
      expect(error.message).toBe("unknown pipeline 'nope'; known: diagnostics")
    }))

  it.effect("refuses a sub-pipeline cycle and an unknown sub-pipeline before anything runs", () =>
    Effect.gen(function*() {
      const cyclic = config({
        pipelines: [
          { id: "a", title: "A", stages: [cmd("x"), sub("to-b", "b")] },
          { id: "b", title: "B", stages: [sub("to-a", "a")] },
          { id: "c", title: "C", stages: [sub("to-ghost", "ghost")] }
        ]
      })
      expect((yield* Effect.flip(resolvePipeline(cyclic, "a"))).message).toContain("sub-pipeline cycle a → b → a")
      expect((yield* Effect.flip(resolvePipeline(cyclic, "c"))).message).toContain("unknown pipeline 'ghost' (sub-pipeline of c)")
    }))

  it("refuses a lock retry policy whose waits reach 3 s, jitter included, when the config is decoded", () => {
    const problem = (lockRetry: unknown) => Either.getLeft(decodeProjectConfig(JSON.stringify({ persistence: { lockRetry } })))
    expect(problem({ maxAttempts: 10, initialDelayMs: 500 }).pipe((o) => o._tag === "Some" ? o.value : "")).toMatch(/^persistence\.lockRetry: waits add up to/)
    // 200 + 400 + 800 + 1600 = 3000 ms before jitter, 3600 ms at its worst.
    expect(problem({ maxAttempts: 5, initialDelayMs: 200, backoffFactor: 2 }).pipe((o) => o._tag === "Some" ? o.value : "")).toMatch(/waits add up to 3600 ms/)
    // The same waits capped at 500 ms each: 240 + 480 + 500 + 500.
    expect(problem({ maxAttempts: 5, initialDelayMs: 200, backoffFactor: 2, maxDelayMs: 500 })._tag).toBe("None")
  })
})

describe("decodeProjectConfig", () => {
  it("names the path of the offending field", () => {
    const problem = (json: string) => Either.getLeft(decodeProjectConfig(json)).pipe((o) => o._tag === "Some" ? o.value : "")
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [{ kind: "command", id: "x", title: "X" }] }] })))
      .toBe("pipelines[0].stages[0].command: is missing")
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [{ ...cmd("x"), alowFailure: true }] }] })))
      .toMatch(/^pipelines\[0\]\.stages\[0\]\.alowFailure: is unexpected/)
    expect(problem("{\"pipelines\": [")).toMatch(/^is not a valid config: /)
    const stages = [{ ...cmd("build") }, { ...cmd("test") }, { ...cmd("build") }]
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages }] }))).toBe("pipelines[0].stages[2].id: duplicate stage id 'build' (also stages[0])")
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [] }, { id: "a", title: "B", stages: [] }] })))
      .toBe("pipelines[1].id: duplicate pipeline id 'a' (also pipelines[0])")
    expect(problem(JSON.stringify({ redact: ["ok", "["] }))).toMatch(/^redact\[1\]: is not a valid regular expression/)
    expect(problem(JSON.stringify({ redact: ["(secret)?"] }))).toBe("redact[0]: can match the empty string")
    expect(problem(JSON.stringify({ redact: ["(?<n>a)x", "(?<n>b)y"] }))).toMatch(/^redact\[1\]: cannot be combined/)
    expect(problem(JSON.stringify({ pipelines: [{ id: "a", title: "A", stages: [{ ...cmd("x"), stopGraceMs: -1 }] }] })))
      .toMatch(/^pipelines\[0\]\.stages\[0\]\.stopGraceMs: /)
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

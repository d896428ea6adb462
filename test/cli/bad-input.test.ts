import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ROOT, runWithFault } from "../support/FaultHarness.js"
import { MemoryFileSystem } from "../support/MemoryFileSystem.js"

const config = {
  pipelines: [{ id: "demo", title: "Demo", stages: [{ kind: "command", id: "build", title: "Build it", command: "npm run build" }] }]
}

/** Bad input, on the in-memory disk: one prefixed line on stderr, exit code 2, nothing written. */
const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, unknown, RegExp]> = [
  ["a task id that escapes its directory", ["start", "--task", "../etc"], config, /task id "\.\.\/etc" must be 1-64 characters/],
  ["a task id with ..", ["start", "--task", "a..b"], config, /must not contain '\.\.'/],
  ["a task id the layout uses", ["start", "--task", "demo.lock"], config, /must not end in '\.lock'/],
  ["an unknown pipeline", ["start", "nope", "--task", "t1"], config, /unknown pipeline 'nope'; known: diagnostics, demo/],
  ["a config field that does not match", ["start", "--task", "t1"], { pipelines: [{ id: "x", title: "X", stages: [{ kind: "command", id: "a", title: "A" }] }] }, /codex\.orchestrator\.json: pipelines\[0\]\.stages\[0\]\.command: is missing/],
  ["a config that does not parse", ["plan"], "{", /codex\.orchestrator\.json: is not a valid config/],
  ["a sub-pipeline cycle", ["start", "a", "--task", "t1"], { pipelines: [{ id: "a", title: "A", stages: [{ kind: "subpipeline", id: "b", title: "B", pipeline: "b" }] }, { id: "b", title: "B", stages: [{ kind: "subpipeline", id: "a", title: "A", pipeline: "a" }] }] }, /sub-pipeline cycle a → b → a/],
  ["a malformed run id", ["status", "--run", "../../x"], config, /run id "\.\.\/\.\.\/x" must look like/],
  ["a malformed parent run id", ["start", "--parent-run", "../../etc/passwd"], config, /run id "\.\.\/\.\.\/etc\/passwd" must look like/],
  ["an unknown run id", ["status", "--run", "2025-10-31T22-56-34-431Z-9574035c"], config, /run 2025-10-31T22-56-34-431Z-9574035c not found/],
  ["a resume of an unknown run", ["resume", "--run", "2025-10-31T22-56-34-431Z-9574035c"], config, /not found/],
  ["a lock retry policy over 3 s", ["start", "--task", "t1"], { persistence: { lockRetry: { maxAttempts: 8, initialDelayMs: 400 } } }, /persistence\.lockRetry: waits add up to/],
  ["an unknown flag where the pipeline goes", ["start", "--bogus"], config, /unknown option '--bogus'/],
  ["a misspelt flag", ["start", "--formt", "json"], config, /'--formt'.*Did you mean '--format'/],
  ["a missing option", ["status"], config, /--run/]
]

describe("bad input is one line, exit code 2, nothing written", () => {
  for (const [name, argv, projectConfig, message] of cases) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const result = yield* runWithFault({ config: projectConfig, script: {}, argv, budgetSeconds: 5 })
        expect(result.code).toBe(2)
        expect(result.stdout).toBe("")
        expect(result.stderr).toHaveLength(1)
        expect(result.stderr[0]).toMatch(/^codex-orchestrator: /)
        expect(result.stderr[0]).toMatch(message)
        expect(yield* result.disk.files(`${ROOT}/.runs`)).toEqual([])
        expect(yield* result.disk.files(`${ROOT}/out`)).toEqual([])
      }).pipe(Effect.provide(MemoryFileSystem.layer)))
  }
})

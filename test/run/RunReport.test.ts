import { describe, expect, it } from "@effect/vitest"
import { CommandEntry, type RunManifest } from "../../src/domain/RunManifest.js"
import { sampleManifest } from "../support/Manifests.js"
import { buildMetricsLine, buildRunSummary, guardrailLine, guardrailOf, parseGuardrailCounts, summaryText } from "../../src/run/RunReport.js"

const entry = (index: number, id: string, status: CommandEntry["status"], extra: Partial<CommandEntry> = {}) =>
  CommandEntry.make({
    index,
    id,
    title: id,
    command: id === "spec-guard" ? "bash scripts/spec-guard.sh --dry-run" : `run ${id}`,
    kind: "command",
    status,
    started_at: null,
    completed_at: null,
    exit_code: status === "failed" ? 2 : 0,
    summary: `${id} said hello`,
    log_path: null,
    error_file: null,
    sub_run_id: null,
    ...extra
  })

const manifest = (status: RunManifest["status"], commands: ReadonlyArray<CommandEntry>, detail: string | null = null) =>
  sampleManifest({
    task_id: "t1",
    task_slug: "t1",
    run_id: "2026-11-29T20-37-54-514Z-8578f92a",
    status,
    status_detail: detail,
    started_at: "2026-11-29T20:37:54.000Z",
    completed_at: "2026-11-29T20:37:56.500Z",
    artifact_root: ".runs/t1/cli/R",
    log_path: ".runs/t1/cli/R/runner.ndjson",
    commands
  })

describe("guardrail lines", () => {
  it("reads the spec guard's closing count line, the last one wins", () => {
    expect(parseGuardrailCounts("ok a\nspec-guard: 1 passed, 1 failed\nspec-guard: 4 passed, 0 failed\n")).toEqual({ passed: 4, failed: 0 })
    expect(parseGuardrailCounts("nothing here")).toBeUndefined()
  })

  it("words every guardrail outcome", () => {
    const guard = (status: CommandEntry["status"]) => entry(4, "spec-guard", status)
    expect(guardrailLine(guardrailOf(undefined, ""))).toBe("Guardrails: spec-guard command not found.")
    expect(guardrailLine(guardrailOf(guard("succeeded"), "spec-guard: 5 passed, 0 failed"))).toBe("Guardrails: spec-guard succeeded (5 passed).")
    expect(guardrailLine(guardrailOf(guard("failed"), "spec-guard: 3 passed, 2 failed"))).toBe("Guardrails: spec-guard failed (2/5 failed).")
    expect(guardrailLine(guardrailOf(guard("succeeded"), "spec-guard: 4 passed, 1 failed"))).toBe(
      "Guardrails: spec-guard partial (1/5 failed, reported only)."
    )
    expect(guardrailLine(guardrailOf(guard("pending"), ""))).toBe("Guardrails: spec-guard skipped (the stage did not run).")
  })
})

describe("summaryText", () => {
  it("puts the failing stage, the guardrail line, the recommendation and truncation lines in that order", () => {
    const m = manifest("failed", [entry(1, "lint", "failed"), entry(2, "spec-guard", "pending")], "stage:lint:failed")
    const text = summaryText(m, guardrailOf(m.commands[1], ""), ["stdout of stage 'lint' truncated: 10 bytes dropped"], true)
    expect(text?.split("\n")).toEqual([
      "Stage 'lint' failed with exit code 2.",
      "Guardrails: spec-guard skipped (the stage did not run).",
      "stdout of stage 'lint' truncated: 10 bytes dropped"
    ])
  })

  it("recommends what the project has when the guardrail stage is missing", () => {
    const m = manifest("succeeded", [entry(1, "build", "succeeded")])
    expect(summaryText(m, guardrailOf(undefined, ""), [], true)).toBe(
      "Guardrails: spec-guard command not found.\nGuardrail command missing; add a stage running `bash scripts/spec-guard.sh --dry-run` (as the built-in diagnostics pipeline does)."
    )
    const without = summaryText(m, guardrailOf(undefined, ""), [], false)
    expect(without).not.toContain("scripts/")
    expect(without).toContain("spec-guard: N passed, F failed")
  })
})

describe("buildRunSummary and buildMetricsLine", () => {
  it("builds the RunSummary the earlier tool wrote", () => {
    const m = manifest("failed", [entry(1, "lint", "failed", { summary: "Exited with code 2 — boom" }), entry(2, "spec-guard", "pending")])
    const summary = buildRunSummary(m, "2026-11-29T20:37:57.000Z")
    expect(summary.plan.items.map((i) => i.id)).toEqual(["diagnostics:lint", "diagnostics:spec-guard"])
    expect(summary.build.subtaskId).toBe("diagnostics:lint")
    expect(summary.build.success).toBe(false)
    expect(summary.build.notes).toBe("lint: Exited with code 2 — boom")
    expect(summary.test.reports).toEqual([{ name: "guardrails", status: "failed", details: "spec-guard step missing or failed" }])
    expect(summary.review.summary.split("\n")[0]).toBe("Diagnostics pipeline failed — inspect manifest for details.")
    expect(summary.review.decision).toEqual({ approved: false, feedback: "lint: Exited with code 2 — boom" })
  })

  it("counts passed and failed commands and the duration", () => {
    const m = manifest("failed", [entry(1, "a", "succeeded"), entry(2, "b", "failed"), entry(3, "spec-guard", "pending")])
    const line = buildMetricsLine(m, "2026-11-29T20:38:00.000Z")
    expect([line.commands_passed, line.commands_failed, line.duration_seconds, line.guardrails_present]).toEqual([1, 1, 2.5, true])
  })
})

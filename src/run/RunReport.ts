import { MetricsLine } from "../domain/Records.js"
import type { CommandEntry, RunManifest } from "../domain/RunManifest.js"
import { RunSummary } from "../domain/RunSummary.js"

/** What the spec-guard stage said, read from its final `spec-guard: N passed, F failed` line. */
export type Guardrail =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "NotRun" }
  | { readonly _tag: "Succeeded"; readonly passed: number }
  | { readonly _tag: "Partial"; readonly failed: number; readonly total: number }
  | { readonly _tag: "Failed"; readonly failed: number; readonly total: number }

export const isGuardrailStage = (entry: CommandEntry): boolean =>
  entry.kind === "command" && (entry.command ?? "").includes("spec-guard")

const COUNT_LINE = /spec-guard: (\d+) passed, (\d+) failed/g

export const parseGuardrailCounts = (stdout: string): { passed: number; failed: number } | undefined => {
  const matches = [...stdout.matchAll(COUNT_LINE)]
  const last = matches[matches.length - 1]
  return last === undefined ? undefined : { passed: Number(last[1]), failed: Number(last[2]) }
}

export const guardrailOf = (entry: CommandEntry | undefined, stdout: string): Guardrail => {
  if (entry === undefined) return { _tag: "Missing" }
  const counts = parseGuardrailCounts(stdout)
  switch (entry.status) {
    case "succeeded": {
      if (counts !== undefined && counts.failed > 0) {
        return { _tag: "Partial", failed: counts.failed, total: counts.passed + counts.failed }
      }
      return { _tag: "Succeeded", passed: counts?.passed ?? 1 }
    }
    case "failed":
      return { _tag: "Failed", failed: counts?.failed ?? 1, total: counts ? counts.passed + counts.failed : 1 }
    case "skipped":
      return counts === undefined
        ? { _tag: "NotRun" }
        : { _tag: "Failed", failed: counts.failed, total: counts.passed + counts.failed }
    default:
      return { _tag: "NotRun" }
  }
}

export const guardrailLine = (guardrail: Guardrail): string => {
  switch (guardrail._tag) {
    case "Missing":
      return "Guardrails: spec-guard command not found."
    case "NotRun":
      return "Guardrails: spec-guard skipped (the stage did not run)."
    case "Succeeded":
      return `Guardrails: spec-guard succeeded (${guardrail.passed} passed).`
    case "Partial":
      return `Guardrails: spec-guard partial (${guardrail.failed}/${guardrail.total} failed, reported only).`
    case "Failed":
      return `Guardrails: spec-guard failed (${guardrail.failed}/${guardrail.total} failed).`
  }
}

export const SPEC_GUARD_SCRIPT = "scripts/spec-guard.sh"

/** What to do about a missing or failed guardrail, pointing only at what the project has. */
export const guardrailRecommendation = (guardrail: Guardrail, hasSpecGuard: boolean): string | undefined => {
  switch (guardrail._tag) {
    case "Missing":
      return hasSpecGuard
        ? `Guardrail command missing; add a stage running \`bash ${SPEC_GUARD_SCRIPT} --dry-run\` (as the built-in diagnostics pipeline does).`
        : "Guardrail command missing; add a stage whose command runs spec-guard and prints `spec-guard: N passed, F failed`."
    case "Failed":
    case "Partial":
      return `Guardrail failed; run the spec-guard stage's command${hasSpecGuard ? ` (\`bash ${SPEC_GUARD_SCRIPT}\`)` : ""} and fix what it reports.`
    default:
      return undefined
  }
}

export const stoppingLine = (manifest: RunManifest): string | undefined => {
  if (manifest.status === "cancelled") {
    const running = manifest.commands.find((c) => c.status === "running" || c.status === "failed")
    const by = manifest.status_detail?.startsWith("cancelled:") ? ` by ${manifest.status_detail.slice(10)}` : ""
    return running === undefined ? `Run cancelled${by}.` : `Run cancelled${by} during stage '${running.id}'.`
  }
  if (manifest.status !== "failed") return undefined
  const failed = manifest.commands.find((c) => c.status === "failed")
  if (failed === undefined) return manifest.status_detail === null ? "Run failed." : `Run failed: ${manifest.status_detail}.`
  if (failed.kind === "subpipeline") return `Sub-pipeline stage '${failed.id}' failed (child run ${failed.sub_run_id ?? "not started"}).`
  if (manifest.status_detail === `stage:${failed.id}:error`) return `Stage '${failed.id}' could not run: ${failed.summary ?? "unknown error"}.`
  if (failed.exit_code === null) return `Stage '${failed.id}' failed: ${failed.summary ?? "no exit code"}.`
  return `Stage '${failed.id}' failed with exit code ${failed.exit_code}.`
}

export const summaryText = (
  manifest: RunManifest,
  guardrail: Guardrail,
  truncation: ReadonlyArray<string>,
  hasSpecGuard: boolean
): string | null => {
  const recommendation = guardrailRecommendation(guardrail, hasSpecGuard)
  const lines = [
    stoppingLine(manifest),
    guardrailLine(guardrail),
    recommendation,
    ...truncation
  ].filter((line): line is string => line !== undefined)
  return lines.length === 0 ? null : lines.join("\n")
}

const stageNote = (entry: CommandEntry): string =>
  entry.kind === "subpipeline" ? `${entry.title}: ${entry.status}` : `${entry.title}: ${entry.summary ?? entry.status}`

/** The RunSummary of CONTRACT §6, built the way the earlier tool built it. */
export const buildRunSummary = (manifest: RunManifest, timestamp: string): RunSummary => {
  const items = manifest.commands.map((entry) => ({
    id: `${manifest.pipeline_id}:${entry.id}`,
    description: entry.title,
    requires_cloud: false
  }))
  const subtaskId = items[0]?.id ?? `${manifest.pipeline_id}`
  const success = manifest.status === "succeeded"
  const notes = manifest.commands.filter((c) => c.status !== "pending").map(stageNote).join("\n")
  const guard = manifest.commands.find(isGuardrailStage)
  const guardrailsPassed = guard?.status === "succeeded"
  const manifestPath = `${manifest.artifact_root}/manifest.json`
  const headline = success
    ? "Diagnostics pipeline succeeded."
    : manifest.status === "cancelled"
    ? "Diagnostics pipeline cancelled — inspect manifest for details."
    : "Diagnostics pipeline failed — inspect manifest for details."
  return RunSummary.make({
    taskId: manifest.task_id,
    runId: manifest.run_id,
    mode: "mcp",
    plan: { items },
    build: {
      subtaskId,
      artifacts: [
        { path: manifestPath, description: "CLI run manifest" },
        { path: manifest.log_path, description: "Runner log (ndjson)" }
      ],
      mode: "mcp",
      runId: manifest.run_id,
      success,
      ...(notes.length > 0 ? { notes } : {})
    },
    test: {
      subtaskId,
      success: guardrailsPassed,
      reports: [
        guardrailsPassed
          ? { name: "guardrails", status: "passed" as const }
          : { name: "guardrails", status: "failed" as const, details: "spec-guard step missing or failed" }
      ],
      runId: manifest.run_id
    },
    review: {
      summary: `${headline}\nManifest: ${manifestPath}\nRunner log: ${manifest.log_path}`,
      decision: { approved: success, ...(notes.length > 0 ? { feedback: notes } : {}) }
    },
    timestamp
  })
}

export const buildMetricsLine = (manifest: RunManifest, recordedAt: string): MetricsLine => {
  const started = Date.parse(manifest.started_at)
  const completed = manifest.completed_at === null ? Number.NaN : Date.parse(manifest.completed_at)
  const duration = Number.isFinite(started) && Number.isFinite(completed) ? (completed - started) / 1000 : 0
  return MetricsLine.make({
    run_id: manifest.run_id,
    task_id: manifest.task_id,
    pipeline_id: manifest.pipeline_id,
    status: manifest.status,
    started_at: manifest.started_at,
    completed_at: manifest.completed_at,
    duration_seconds: Math.round(duration * 1000) / 1000,
    commands_passed: manifest.commands.filter((c) => c.status === "succeeded").length,
    commands_failed: manifest.commands.filter((c) => c.status === "failed").length,
    guardrails_present: manifest.commands.some(isGuardrailStage),
    recorded_at: recordedAt,
    artifact_path: manifest.artifact_root,
    child_runs: manifest.child_runs.length
  })
}

import { createHash, timingSafeEqual } from "node:crypto"
import type { Stage } from "./ProjectConfig.js"
import { CommandEntry, isTerminal, type RunManifest } from "./RunManifest.js"

/** Whether a run may be resumed (CONTRACT §2): failed, cancelled, or in progress with a stale heartbeat. */
export type ResumeDecision =
  | { readonly _tag: "Resume" }
  | {
    readonly _tag: "Refuse"
    readonly why: string
    /** A finished run has no writer left, so its refusal can be put on record as a `blocked` event. */
    readonly record: boolean
  }

export const resumeDecision = (manifest: RunManifest, stale: boolean): ResumeDecision => {
  if (manifest.status === "failed" || manifest.status === "cancelled" || stale) return { _tag: "Resume" }
  return !isTerminal(manifest.status)
    ? { _tag: "Refuse", why: "is still in progress with a fresh heartbeat", record: false }
    : { _tag: "Refuse", why: `already ${manifest.status}`, record: true }
}

/** A stage whose entry says this is not run again by a resume. */
export const isDone = (entry: CommandEntry): boolean => entry.status === "succeeded" || entry.status === "skipped"

// Matched to the current pipeline by stage id: done stages keep their entries; a sub-pipeline stage that
// is not done keeps its child run, which the resume continues.
export const resumedEntries = (
  stages: ReadonlyArray<Stage>,
  previous: ReadonlyArray<CommandEntry>,
  fresh: (stage: Stage, index: number) => CommandEntry
): ReadonlyArray<CommandEntry> =>
  stages.map((stage, i) => {
    const before = previous.find((entry) => entry.id === stage.id)
    const entry = fresh(stage, i + 1)
    if (before === undefined) return entry
    if (isDone(before)) return CommandEntry.make({ ...before, index: i + 1 })
    return stage.kind === "subpipeline" ? CommandEntry.make({ ...entry, sub_run_id: before.sub_run_id }) : entry
  })

/** Constant-time comparison of a presented resume token with the run's. */
export const tokensMatch = (presented: string, expected: string): boolean => {
  const digest = (value: string) => createHash("sha256").update(value.trim()).digest()
  return timingSafeEqual(digest(presented), digest(expected))
}

import { Effect, Option } from "effect"
import { type HistorySchemaError, ResumeRefusedError, type RunNotFoundError } from "../domain/Errors.js"
import type { Pipeline } from "../domain/ProjectConfig.js"
import { resumeDecision, resumedEntries } from "../domain/ResumePolicy.js"
import { ResumeEvent } from "../domain/RunManifest.js"
import { heartbeatAge } from "../domain/Staleness.js"
import { isoAt } from "../domain/Timestamp.js"
import type { RunHistoryShape, StoredRun } from "../history/RunHistory.js"
import type { LocatedRun, RunDirectoryShape } from "../persistence/RunDirectory.js"
import { freshEntry, withFields } from "./RunContext.js"

/** Whether an owned run may be resumed at `now`: refused runs that are over get a `blocked` event on record. */
export const admit = (runs: RunDirectoryShape, located: LocatedRun, now: number, actor: string, reason: string) =>
  Effect.gen(function*() {
    const stale = heartbeatAge(located.manifest, now, { heartbeatFileAt: located.heartbeatFileAt }).heartbeat_stale
    const decision = resumeDecision(located.manifest, stale)
    const timestamp = isoAt(now)
    if (decision._tag === "Resume") return ResumeEvent.make({ timestamp, actor, reason, outcome: "accepted" })
    const runId = located.manifest.run_id
    if (decision.record) {
      const blocked = ResumeEvent.make({ timestamp, actor, reason, outcome: "blocked", detail: `run ${decision.why}` })
      yield* runs.writeManifest(located.paths, withFields(located.manifest, { resume_events: [...located.manifest.resume_events, blocked] }), { final: true })
    }
    return yield* new ResumeRefusedError({ runId, message: `run ${runId} ${decision.why}; only a failed, cancelled or stale run can be resumed` })
  })

/** The manifest a resume continues under the run's own id: done stages keep their entries. */
export const resumedManifest = (located: LocatedRun, pipeline: Pipeline, event: ResumeEvent, rel: (absolute: string) => string) =>
  withFields(located.manifest, {
    status: "in_progress",
    status_detail: "resuming",
    completed_at: null,
    heartbeat_at: event.timestamp,
    summary: null,
    metrics_recorded: false,
    resume_events: [...located.manifest.resume_events, event],
    commands: resumedEntries(pipeline.stages, located.manifest.commands, (stage, index) => freshEntry(stage, index, located.paths, rel))
  })

/** A run this machine has no files of: when the shared history knows it, it is resumed where it ran. */
export const elsewhere = (history: RunHistoryShape, runId: string, missing: RunNotFoundError): Effect.Effect<never, RunNotFoundError | ResumeRefusedError | HistorySchemaError> =>
  history.find(runId).pipe(
    Effect.catchTag("HistoryUnreachable", () => Effect.succeed(Option.none<StoredRun>())),
    Effect.flatMap((row): Effect.Effect<never, RunNotFoundError | ResumeRefusedError> =>
      Option.isNone(row)
        ? Effect.fail(missing)
        : Effect.fail(new ResumeRefusedError({ runId, message: `run ${runId} ran on ${row.value.host}, which has its files: resume it there` })))
  )

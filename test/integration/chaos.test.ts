import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { formatReport, runCampaign } from "../../scripts/chaos.js"

// The short crash campaign (docs/CHAOS.md): 20 SIGKILLs of the built binary, one 30 s stale wait.
describe("crash campaign, short", () => {
  it.live("after 20 SIGKILLs at random moments every file decodes, the next start recovers and resume completes", () =>
    Effect.gen(function*() {
      const report = yield* Effect.promise(() => runCampaign({ kills: 20, seed: 20 }))
      const table = formatReport(report)
      yield* Effect.logInfo(`\n${table}`)
      expect(report.kills).toBe(20)
      expect(report.failures).toEqual([])
      for (const name of ["files decode after the kill", "next start records its snapshot", "resume completes the killed run"]) {
        expect(report.checks[name]?.passed ?? 0, name).toBeGreaterThan(0)
      }
      expect(report.counts.resumesCompleted).toBe(report.counts.staleReported)
      expect(report.counts.staleWaitSeconds).toBeLessThanOrEqual(32)
      // Kept when an assertion fails, for inspection; about 50 MB otherwise left in the temp dir.
      fs.rmSync(report.root, { recursive: true, force: true })
    }), 180_000)
})

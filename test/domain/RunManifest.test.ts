import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ChildRunRef, CommandEntry, decodeRunManifest, encodeRunManifest, manifestJson, ResumeEvent } from "../../src/domain/RunManifest.js"
import { sampleManifest } from "../support/Manifests.js"
import { legacyPath } from "../support/LegacyFixtures.js"

const legacy = legacyPath(".runs/legacy-demo/cli")

describe("RunManifest", () => {
  it.effect("manifestJson writes exactly the bytes the Schema encodes", () =>
    Effect.gen(function*() {
      const manifest = sampleManifest({
        commands: [
          CommandEntry.make({ index: 1, id: "a", title: "A", command: "true", kind: "command", status: "succeeded", started_at: "x", completed_at: "y", exit_code: 0, summary: "ok", log_path: "l", error_file: null, sub_run_id: null }),
          CommandEntry.make({ index: 2, id: "b", title: "B", command: null, kind: "subpipeline", status: "pending", started_at: null, completed_at: null, exit_code: null, summary: null, log_path: null, error_file: null, sub_run_id: null })
        ],
        resume_events: [
          ResumeEvent.make({ timestamp: "t", actor: "me", reason: "r", outcome: "accepted" }),
          ResumeEvent.make({ timestamp: "t", actor: "me", reason: "r", outcome: "blocked", detail: "already succeeded" })
        ],
        child_runs: [ChildRunRef.make({ run_id: "c", pipeline_id: "p", status: "failed", manifest: "m" })]
      })
      expect(manifestJson(manifest)).toBe(yield* encodeRunManifest(manifest))
      for (const run of fs.readdirSync(legacy)) {
        const decoded = yield* decodeRunManifest(fs.readFileSync(path.join(legacy, run, "manifest.json"), "utf8"))
        expect(manifestJson(decoded)).toBe(yield* encodeRunManifest(decoded))
      }
    }))

  it.effect("decoding refuses a field version 1 does not have", () =>
    Effect.gen(function*() {
      const text = JSON.stringify({ ...JSON.parse(manifestJson(sampleManifest())), extra: 1 })
      const error = yield* Effect.flip(decodeRunManifest(text))
      expect(error.message).toContain("extra")
    }))
})

import { describe, expect, it } from "@effect/vitest"
import type { RunStatus } from "../../src/domain/RunManifest.js"
import { isoAt } from "../../src/domain/Timestamp.js"
import { heartbeatAge } from "../../src/domain/Staleness.js"
import { sampleManifest } from "../support/Manifests.js"

const manifest = (fields: {
  readonly status?: RunStatus
  readonly startedAt?: number
  readonly updatedAt?: number
  readonly heartbeatAt?: number | null
  readonly staleAfterSeconds?: number
}) =>
  sampleManifest({
    status: fields.status ?? "in_progress",
    started_at: isoAt(fields.startedAt ?? 0),
    updated_at: isoAt(fields.updatedAt ?? fields.startedAt ?? 0),
    heartbeat_at: fields.heartbeatAt === undefined || fields.heartbeatAt === null ? null : isoAt(fields.heartbeatAt),
    heartbeat_stale_after_seconds: fields.staleAfterSeconds ?? 30
  })

describe("heartbeatAge", () => {
  it("a fresh heartbeat is not stale", () => {
    expect(heartbeatAge(manifest({ heartbeatAt: 100_000 }), 112_400)).toEqual({
      heartbeat_age_seconds: 12,
      heartbeat_stale: false
    })
  })

  it("an in_progress run whose last sign of life is older than the threshold is stale", () => {
    expect(heartbeatAge(manifest({ heartbeatAt: 100_000, updatedAt: 90_000 }), 131_000)).toEqual({
      heartbeat_age_seconds: 31,
      heartbeat_stale: true
    })
    expect(heartbeatAge(manifest({ heartbeatAt: 100_000 }), 130_000).heartbeat_stale).toBe(false)
  })

  it("uses the run's own threshold", () => {
    expect(heartbeatAge(manifest({ heartbeatAt: 0, staleAfterSeconds: 120 }), 90_000).heartbeat_stale).toBe(false)
    expect(heartbeatAge(manifest({ heartbeatAt: 0, staleAfterSeconds: 10 }), 11_000).heartbeat_stale).toBe(true)
  })

  it("a run that is not in_progress is never stale, however old", () => {
    for (const status of ["succeeded", "failed", "cancelled", "queued"] as const) {
      const age = heartbeatAge(manifest({ status, heartbeatAt: 0 }), 86_400_000)
      expect(age).toEqual({ heartbeat_age_seconds: 86_400, heartbeat_stale: false })
    }
  })

  it("without heartbeat_at, falls back to updated_at", () => {
    expect(heartbeatAge(manifest({ startedAt: 0, updatedAt: 50_000, heartbeatAt: null }), 60_000)).toEqual({
      heartbeat_age_seconds: 10,
      heartbeat_stale: false
    })
    expect(heartbeatAge(manifest({ startedAt: 0, heartbeatAt: null }), 45_000).heartbeat_stale).toBe(true)
  })

  it("a newer manifest write or .heartbeat file counts as a sign of life", () => {
    expect(heartbeatAge(manifest({ heartbeatAt: 0, updatedAt: 20_000 }), 40_000)).toEqual({
      heartbeat_age_seconds: 20,
      heartbeat_stale: false
    })
    const old = manifest({ heartbeatAt: 0 })
    expect(heartbeatAge(old, 40_000, { heartbeatFileAt: isoAt(38_000) })).toEqual({
      heartbeat_age_seconds: 2,
      heartbeat_stale: false
    })
    expect(heartbeatAge(old, 40_000, { heartbeatFileAt: `${isoAt(39_000)}\n` }).heartbeat_age_seconds).toBe(1)
    expect(heartbeatAge(old, 40_000, { heartbeatFileAt: "not a time\n" }).heartbeat_stale).toBe(true)
  })

  it("a heartbeat from the future (clock skew) is age 0, not negative", () => {
    expect(heartbeatAge(manifest({ heartbeatAt: 10_000 }), 5_000)).toEqual({
      heartbeat_age_seconds: 0,
      heartbeat_stale: false
    })
  })

  it("an unreadable timestamp falls back to the next one", () => {
    const broken = sampleManifest({ heartbeat_at: "yesterday", updated_at: "?" })
    expect(heartbeatAge(broken, 10_000)).toEqual({ heartbeat_age_seconds: 10, heartbeat_stale: false })
    const none = sampleManifest({ heartbeat_at: "yesterday", updated_at: "?", started_at: "?" })
    expect(heartbeatAge(none, 10_000)).toEqual({ heartbeat_age_seconds: null, heartbeat_stale: false })
  })
})

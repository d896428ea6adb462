import type { RunManifest } from "./RunManifest.js"

export interface HeartbeatAge {
  readonly heartbeat_age_seconds: number | null
  readonly heartbeat_stale: boolean
}

const millisOf = (iso: string | null | undefined): number | undefined => {
  if (iso === null || iso === undefined) return undefined
  const millis = Date.parse(iso.trim())
  return Number.isNaN(millis) ? undefined : millis
}

// The newest of `heartbeat_at`, `updated_at` and the `.heartbeat` file counts (CONTRACT §2, §4): the heartbeat
// rewrites the manifest only every 30 s (the default stale threshold), yet every write is a sign of life.
export const heartbeatAge = (
  manifest: RunManifest,
  nowMillis: number,
  options: { readonly heartbeatFileAt?: string | null } = {}
): HeartbeatAge => {
  const signs = [manifest.heartbeat_at, manifest.updated_at, options.heartbeatFileAt]
    .map(millisOf)
    .filter((millis): millis is number => millis !== undefined)
  const lastSign = signs.length > 0 ? Math.max(...signs) : millisOf(manifest.started_at)
  if (lastSign === undefined) {
    return { heartbeat_age_seconds: null, heartbeat_stale: false }
  }
  const ageMillis = Math.max(0, nowMillis - lastSign)
  return {
    heartbeat_age_seconds: Math.floor(ageMillis / 1000),
    heartbeat_stale: manifest.status === "in_progress" &&
      ageMillis > manifest.heartbeat_stale_after_seconds * 1000
  }
}

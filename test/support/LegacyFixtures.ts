import * as fs from "node:fs"
import * as path from "node:path"

/**
 * `shared/fixtures/legacy-runs`: the `.runs/` and `out/` trees the earlier codex-orchestrator wrote.
 * `shared/` sits beside the repository (CI clones it that way); the workplace's own copy is the
 * fallback for a clone made elsewhere.
 */
const candidates = [
  path.resolve(import.meta.dirname, "../../../shared/fixtures/legacy-runs"),
  "/work/shared/fixtures/legacy-runs"
]

export const LEGACY_RUNS = candidates.find((dir) => fs.existsSync(dir)) ?? candidates[0]!

/** A path inside the legacy fixture tree. */
export const legacyPath = (...parts: ReadonlyArray<string>): string => path.join(LEGACY_RUNS, ...parts)

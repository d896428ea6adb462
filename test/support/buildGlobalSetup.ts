// Vitest global setup: the integration tests run dist/, so it is built from the source under test once
// per run (a dist left from older source would test that instead).
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const repo = fileURLToPath(new URL("../..", import.meta.url))

export default async function setup(): Promise<void> {
  await promisify(execFile)(process.execPath, ["scripts/build.mjs"], { cwd: repo, timeout: 300_000 })
}

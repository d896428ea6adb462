// Vitest global setup: one PostgreSQL server for the whole run (CONTRACT §11 tests).
// CODEX_ORCHESTRATOR_TEST_PG_URL already set: that server is used and left alone. Otherwise
// scripts/postgres.sh starts a throwaway one in a temp dir, stopped and removed at teardown.
// Tests read the URL with `inject("pgUrl")`; spawned processes find it in the environment.
import { execFile } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string
  }
}

const ENV = "CODEX_ORCHESTRATOR_TEST_PG_URL"
const script = fileURLToPath(new URL("../../scripts/postgres.sh", import.meta.url))
const run = promisify(execFile)

const postgres = async (command: "start" | "stop", dir: string): Promise<string> => {
  try {
    return (await run("bash", [script, command, dir], { timeout: 120_000 })).stdout.trim()
  } catch (error) {
    const { stderr } = error as { stderr?: string }
    throw new Error(`scripts/postgres.sh ${command} failed${stderr ? `:\n${stderr.trim()}` : ""}`)
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env[ENV]
  if (given !== undefined && given !== "") {
    project.provide("pgUrl", given)
    return undefined
  }
  const dir = await mkdtemp(join(tmpdir(), "codex-pg-"))
  let url: string
  try {
    url = await postgres("start", dir)
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  const stop = async () => {
    delete process.env[ENV]
    await postgres("stop", dir)
  }
  try {
    process.env[ENV] = url
    project.provide("pgUrl", url)
  } catch (error) {
    await stop()
    throw error
  }
  return stop
}

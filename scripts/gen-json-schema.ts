/**
 * Writes docs/run-manifest.schema.json from the RunManifest schema, the one source of truth.
 * Run: npx tsx scripts/gen-json-schema.ts   (test/persistence/json-schema.test.ts fails when the copy is stale)
 */
import { JSONSchema } from "effect"
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { RunManifest } from "../src/domain/RunManifest.js"

export const SCHEMA_PATH = fileURLToPath(new URL("../docs/run-manifest.schema.json", import.meta.url))

export const renderRunManifestSchema = (): string => {
  const schema = {
    ...JSONSchema.make(RunManifest),
    $id: "https://codex-orchestrator/schemas/run-manifest.v1.json",
    title: "codex-orchestrator run manifest, version 1",
    description: "RUNS/TASK/cli/RUN/manifest.json (CONTRACT §3). Generated from src/domain/RunManifest.ts; do not edit."
  }
  return `${JSON.stringify(schema, null, 2)}\n`
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_PATH, renderRunManifestSchema())
  console.log(`wrote ${SCHEMA_PATH}`)
}

import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { renderRunManifestSchema, SCHEMA_PATH } from "../../scripts/gen-json-schema.js"

describe("docs/run-manifest.schema.json", () => {
  it("matches the RunManifest schema (regenerate: npx tsx scripts/gen-json-schema.ts)", () => {
    expect(readFileSync(SCHEMA_PATH, "utf8")).toBe(renderRunManifestSchema())
  })

  it("refuses unknown top-level keys, as the manifest's consumers do", () => {
    const schema = JSON.parse(renderRunManifestSchema()) as { additionalProperties: boolean; properties: object }
    expect(schema.additionalProperties).toBe(false)
    expect(Object.keys(schema.properties)).toHaveLength(28)
  })
})

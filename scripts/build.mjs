// Bundles the CLI into one ESM file: one read from disk at start-up instead of hundreds of modules.
import { build } from "esbuild"
import { chmod } from "node:fs/promises"

await build({
  entryPoints: ["src/bin.ts"],
  outfile: "dist/bin.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: true,
  legalComments: "none",
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: "warning"
})
await chmod("dist/bin.js", 0o755)


// Bundles the CLI into one CommonJS file behind a small loader that keeps V8's code cache beside it:
// start-up then reads one file and skips most of the parse and compile of ~700 KB of JavaScript.
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"

// Pulled in by code paths the CLI never takes (@effect/cli config files, Schema arbitraries);
// replaced by empty modules so they are neither shipped nor parsed at start-up.
const unused = ["yaml", "toml", "ini", "fast-check"]
const stubUnused = {
  name: "stub-unused",
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${unused.join("|")})$`) }, (args) => ({ path: args.path, namespace: "stub" }))
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: "module.exports = {}", loader: "js" }))
  }
}

await rm("dist", { recursive: true, force: true })
await build({
  entryPoints: ["src/bin.ts"],
  outfile: "dist/main.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  legalComments: "none",
  plugins: [stubUnused],
  logLevel: "warning"
})

const loader = `#!/usr/bin/env node
"use strict"
// Runs main.cjs through vm.Script with V8's code cache (main.cjs.cache), made at build time.
const fs = require("node:fs")
const path = require("node:path")
const vm = require("node:vm")
const Module = require("node:module")
const file = path.join(__dirname, "main.cjs")
const cacheFile = file + ".cache"
let cachedData
try { cachedData = fs.readFileSync(cacheFile) } catch {}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData })
const mod = { exports: {} }
const req = Module.createRequire(file)
script.runInThisContext()(mod.exports, req, mod, file, __dirname)
if (process.env.CODEX_ORCHESTRATOR_WRITE_CODE_CACHE === "1") {
  process.on("exit", () => fs.writeFileSync(cacheFile, script.createCachedData()))
}
`
await writeFile("dist/bin.cjs", loader)
await chmod("dist/bin.cjs", 0o755)

// Warm the cache with what a run compiles: a one-stage start in a throwaway project covers config,
// engine, persistence and output; --help and plan reuse most of it.
const project = await mkdtemp(join(tmpdir(), "codex-orchestrator-warm-"))
await writeFile(
  join(project, "codex.orchestrator.json"),
  JSON.stringify({ pipelines: [{ id: "warm", title: "Warm", stages: [{ kind: "command", id: "t", title: "t", command: "true" }] }] })
)
spawnSync(process.execPath, ["dist/bin.cjs", "start", "warm", "--task", "warm"], {
  env: { ...process.env, CODEX_ORCHESTRATOR_ROOT: project, CODEX_ORCHESTRATOR_WRITE_CODE_CACHE: "1" },
  stdio: "ignore"
})
await rm(project, { recursive: true, force: true })

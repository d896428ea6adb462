// Bundles the CLI into one CommonJS file behind a small loader that keeps V8's code cache beside it:
// start-up then reads one file and skips most of the parse and compile of ~700 KB of JavaScript.
import { build } from "esbuild"
import { spawnSync } from "node:child_process"
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

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

const common = { bundle: true, platform: "node", target: "node20", format: "cjs", minify: true, legalComments: "none", logLevel: "warning" }
await rm("dist", { recursive: true, force: true })

// The shared history's database code is a file of its own, read only when a history URL is set. It
// takes effect from main.cjs rather than carrying a second copy: one runtime, one set of Tags.
const shared = ["effect", "@effect/platform"]
const chunk = await build({
  ...common,
  entryPoints: ["src/history/PgStore.ts"],
  outfile: "dist/history.cjs",
  external: shared.flatMap((name) => [name, `${name}/*`]),
  metafile: true
})
const borrowed = [...new Set(Object.values(chunk.metafile.inputs).flatMap((input) => input.imports)
  .filter((i) => i.external && shared.some((name) => i.path === name || i.path.startsWith(`${name}/`))).map((i) => i.path))].sort()
if (borrowed.includes("effect") || borrowed.includes("@effect/platform")) throw new Error("the history chunk must import effect by subpath")
const chunkLoader = `${borrowed.map((name, i) => `import * as m${i} from ${JSON.stringify(name)}`).join("\n")}
const fs = require("node:fs"), path = require("node:path"), vm = require("node:vm"), Module = require("node:module")
const shared = { ${borrowed.map((name, i) => `${JSON.stringify(name)}: m${i}`).join(", ")} }
const file = path.join(__dirname, "history.cjs"), cacheFile = file + ".cache"
let cachedData
try { cachedData = fs.readFileSync(cacheFile) } catch {}
const script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData })
const mod = { exports: {} }, req = Module.createRequire(file)
script.runInThisContext()(mod.exports, (id) => (id in shared ? shared[id] : req(id)), mod, file, path.dirname(file))
if (process.env.CODEX_ORCHESTRATOR_WRITE_CODE_CACHE === "1") process.on("exit", () => fs.writeFileSync(cacheFile, script.createCachedData()))
export const { connect, HistoryFailure, SCHEMA_VERSION } = mod.exports
`
const historyChunk = {
  name: "history-chunk",
  setup(b) {
    b.onResolve({ filter: /^\.\/PgStore\.js$/ }, (args) =>
      args.importer.endsWith("loadPgStore.ts") ? { path: "history-chunk", namespace: "history-chunk", pluginData: args.resolveDir } : undefined)
    b.onLoad({ filter: /.*/, namespace: "history-chunk" }, (args) => ({ contents: chunkLoader, loader: "js", resolveDir: args.pluginData }))
  }
}

// One bundle a group of subcommands, so each command loads only what it needs; main.cjs has them all
// and answers everything else (usage errors, --wizard).
const entries = { main: "src/bin.ts", runs: "src/entry/runs.ts", plan: "src/entry/plan.ts", inspect: "src/entry/inspect.ts" }
for (const [name, entry] of Object.entries(entries)) {
  await build({ ...common, entryPoints: [entry], outfile: `dist/${name}.cjs`, plugins: [stubUnused, historyChunk] })
}

// Help and version as @effect/cli prints them, rendered now: the loader answers them from help.json
// without loading the program (a test holds them byte for byte to what the parser prints).
const helpScript = join(await mkdtemp(join(tmpdir(), "codex-orchestrator-help-")), "help.mjs")
await build({ ...common, format: "esm", entryPoints: ["scripts/build/help-texts.ts"], outfile: helpScript, plugins: [stubUnused, historyChunk],
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } })
const help = spawnSync(process.execPath, [helpScript, "--print"], { encoding: "utf8", cwd: tmpdir() })
if (help.status !== 0) throw new Error(`rendering help failed: ${help.stderr}`)
await writeFile("dist/help.json", help.stdout)
await rm(dirname(helpScript), { recursive: true, force: true })

const loader = `#!/usr/bin/env node
"use strict"
const fs = require("node:fs")
const path = require("node:path")
// --help, <command> --help and --version: what the program would print, rendered at build time.
const args = process.argv.slice(2)
const asked = args.length === 0 || (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) ? ""
  : args.length === 1 && args[0] === "--version" ? "--version"
  : args.length === 2 && (args[1] === "--help" || args[1] === "-h") ? args[0] : undefined
const texts = asked === undefined ? undefined : JSON.parse(fs.readFileSync(path.join(__dirname, "help.json"), "utf8"))
if (texts !== undefined && texts[asked] !== undefined) {
  const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""
  process.stdout.write(texts[asked][colour ? "ansi" : "plain"])
  return
}
// Otherwise the bundle of the subcommand, through vm.Script with its V8 code cache, made at build time.
const vm = require("node:vm")
const Module = require("node:module")
const bundles = { start: "runs.cjs", resume: "runs.cjs", plan: "plan.cjs", status: "inspect.cjs", history: "inspect.cjs" }
const file = path.join(__dirname, (!args.includes("--wizard") && bundles[args[0]]) || "main.cjs")
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
const warm = { ...process.env, CODEX_ORCHESTRATOR_ROOT: project, CODEX_ORCHESTRATOR_WRITE_CODE_CACHE: "1" }
delete warm.CODEX_ORCHESTRATOR_HISTORY_URL
const warmed = spawnSync(process.execPath, ["dist/bin.cjs", "start", "warm", "--task", "warm", "--format", "json"], { env: warm, encoding: "utf8" })
const warmRun = JSON.parse(warmed.stdout).run_id
for (const args of [["plan", "warm"], ["status", "--run", warmRun], ["history", "--task", "warm"], ["bogus"]]) {
  spawnSync(process.execPath, ["dist/bin.cjs", ...args], { env: warm, stdio: "ignore" })
}
// The history chunk's own cache: loading it is most of its cost; nothing listens on port 1.
spawnSync(process.execPath, ["dist/bin.cjs", "history", "--task", "warm"], {
  env: { ...warm, CODEX_ORCHESTRATOR_HISTORY_URL: "postgres://warm@127.0.0.1:1/warm" },
  stdio: "ignore"
})
await rm(project, { recursive: true, force: true })

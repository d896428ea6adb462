import * as NodeContext from "@effect/platform-node/NodeContext"
import type * as FileSystem from "@effect/platform/FileSystem"
import { afterAll } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { baseLayer } from "../../src/AppLayer.js"
import { fullCli } from "../../src/FullCli.js"
import { main } from "../../src/Cli.js"
import { Progress } from "../../src/run/Progress.js"
import { Shutdown, type ShutdownShape } from "../../src/run/Shutdown.js"
import { NodeStageSpawner } from "../../src/run/stage/NodeStageSpawner.js"
import type { StageSpawner } from "../../src/run/stage/StageSpawner.js"
import { Settings, type SettingsShape } from "../../src/Settings.js"
import { capturingConsole, text } from "./CapturingConsole.js"
import { LEGACY_RUNS } from "./LegacyFixtures.js"

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly logs: ReadonlyArray<string>
}



export interface CliOptions {
  readonly settings?: Partial<SettingsShape>
  readonly shutdown?: ShutdownShape
  readonly spawner?: Layer.Layer<StageSpawner, never, FileSystem.FileSystem>
  /** Lines of stderr as they are written, for a test that waits on what a command says. */
  readonly stderr?: Array<string>
}

/** Runs the real command tree in-process against the real disk under `root`. */
export const runCli = (root: string, argv: ReadonlyArray<string>, options: CliOptions = {}) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = options.stderr ?? []
    const logs: Array<string> = []
    const shutdown = options.shutdown ?? (yield* Shutdown.make)
    const base = baseLayer({
      platform: NodeContext.layer,
      settings: Settings.layer(Settings.make(root, options.settings)),
      shutdown: Layer.succeed(Shutdown, shutdown),
      // Runs say nothing on stderr here; what a command prints for the person watching (status --watch) is kept.
      progress: Layer.map(Progress.silent, (context) =>
        Context.add(context, Progress, { ...Context.get(context, Progress), note: (line) => Effect.sync(() => void err.push(line)) }))
    })
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => void logs.push(`${logLevel.label} ${text([message].flat())}`))
    )
    const code = yield* main(argv, fullCli(options.spawner ?? NodeStageSpawner)).pipe(
      Effect.provide(base),
      Effect.provide(logger),
      Effect.withConsole(capturingConsole(out, err))
    )
    return { code, stdout: out.join("\n"), stderr: err.join("\n"), logs } satisfies CliResult
  })

const projects: Array<string> = []
// Registered while the importing test file is collected: its projects go when its tests are done.
afterAll(() => {
  for (const root of projects.splice(0)) fs.rmSync(root, { recursive: true, force: true })
})

/** A fresh project root in the OS temp dir, with an optional `codex.orchestrator.json`; removed after the file's tests. */
export const makeProject = (config?: unknown): string => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "codex-orch-"))
  projects.push(root)
  if (config !== undefined) fs.writeFileSync(path.join(root, "codex.orchestrator.json"), JSON.stringify(config, null, 2))
  return root
}

/** Copies the legacy fixture tree (read-only on disk) into a writable temp root. */
export const copyLegacyFixture = (): string => {
  const root = makeProject()
  fs.cpSync(LEGACY_RUNS, root, { recursive: true, verbatimSymlinks: true })
  const makeWritable = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isSymbolicLink()) continue
      fs.chmodSync(full, entry.isDirectory() ? 0o755 : 0o644)
      if (entry.isDirectory()) makeWritable(full)
    }
  }
  fs.chmodSync(root, 0o755)
  makeWritable(root)
  return root
}

export const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(file, "utf8"))

export const readLines = (file: string): ReadonlyArray<unknown> =>
  fs.readFileSync(file, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line))

import { Config, Context, Effect, Layer, Option } from "effect"
import * as path from "node:path"

/**
 * Where things go (CONTRACT §1). Read from the environment through `Config` once, at the edge;
 * tests provide the service directly.
 */
export interface SettingsShape {
  readonly root: string
  readonly runsDir: string
  readonly outDir: string
  /** `MCP_RUNNER_TASK_ID` when set; `--task` wins over it, `0101` is the fallback. */
  readonly defaultTaskId: string
  readonly configFile: string
}

export class Settings extends Context.Tag("codex-orchestrator/Settings")<Settings, SettingsShape>() {
  static readonly make = (root: string, overrides: Partial<SettingsShape> = {}): SettingsShape => {
    const absRoot = path.resolve(root)
    return {
      root: absRoot,
      runsDir: path.join(absRoot, ".runs"),
      outDir: path.join(absRoot, "out"),
      defaultTaskId: "0101",
      configFile: path.join(absRoot, "codex.orchestrator.json"),
      ...overrides
    }
  }

  static readonly fromEnv: Layer.Layer<Settings, never> = Layer.effect(
    Settings,
    Effect.gen(function*() {
      const root = path.resolve(yield* Config.string("CODEX_ORCHESTRATOR_ROOT").pipe(Config.withDefault(".")))
      const runsDir = yield* Config.option(Config.string("CODEX_ORCHESTRATOR_RUNS_DIR"))
      const outDir = yield* Config.option(Config.string("CODEX_ORCHESTRATOR_OUT_DIR"))
      const taskId = yield* Config.string("MCP_RUNNER_TASK_ID").pipe(Config.withDefault("0101"))
      return Settings.make(root, {
        runsDir: Option.match(runsDir, { onNone: () => path.join(root, ".runs"), onSome: (dir) => path.resolve(root, dir) }),
        outDir: Option.match(outDir, { onNone: () => path.join(root, "out"), onSome: (dir) => path.resolve(root, dir) }),
        defaultTaskId: taskId
      })
    }).pipe(Effect.orDie)
  )

  static readonly layer = (settings: SettingsShape): Layer.Layer<Settings> => Layer.succeed(Settings, settings)
}

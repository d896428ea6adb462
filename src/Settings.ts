import { Config, Context, Effect, Layer, Option } from "effect"
import * as os from "node:os"
import * as path from "node:path"

/** Read from the environment once, at the edge (CONTRACT §1); tests provide the service directly. */
export interface SettingsShape {
  readonly root: string
  readonly runsDir: string
  readonly outDir: string
  readonly configFile: string
  /** The environment every stage inherits (its secret-looking values are masked like a stage's own env). */
  readonly env: Readonly<Record<string, string | undefined>>
  /** The machine's name in the shared history: `CODEX_ORCHESTRATOR_HOST`, else the hostname. */
  readonly host: string
  /** `CODEX_ORCHESTRATOR_HISTORY_URL`: the shared run history (CONTRACT §11), when set. */
  readonly historyUrl: Option.Option<string>
}

export class Settings extends Context.Tag("codex-orchestrator/Settings")<Settings, SettingsShape>() {
  static readonly make = (root: string, overrides: Partial<SettingsShape> = {}): SettingsShape => {
    const absRoot = path.resolve(root)
    return {
      root: absRoot,
      runsDir: path.join(absRoot, ".runs"),
      outDir: path.join(absRoot, "out"),
      configFile: path.join(absRoot, "codex.orchestrator.json"),
      env: process.env,
      host: os.hostname(),
      historyUrl: Option.none(),
      ...overrides
    }
  }

  static readonly fromEnv: Layer.Layer<Settings> = Layer.effect(
    Settings,
    Effect.gen(function*() {
      const root = path.resolve(yield* Config.string("CODEX_ORCHESTRATOR_ROOT").pipe(Config.withDefault(".")))
      const under = (name: string, fallback: string) =>
        Config.string(name).pipe(Config.map((dir) => path.resolve(root, dir)), Config.withDefault(path.join(root, fallback)))
      const nonEmpty = (name: string) => Config.option(Config.nonEmptyString(name))
      return Settings.make(root, {
        runsDir: yield* under("CODEX_ORCHESTRATOR_RUNS_DIR", ".runs"),
        outDir: yield* under("CODEX_ORCHESTRATOR_OUT_DIR", "out"),
        host: Option.getOrElse(yield* nonEmpty("CODEX_ORCHESTRATOR_HOST"), () => os.hostname()),
        historyUrl: yield* nonEmpty("CODEX_ORCHESTRATOR_HISTORY_URL")
      })
    }).pipe(Effect.orDie)
  )

  static readonly layer = (settings: SettingsShape): Layer.Layer<Settings> => Layer.succeed(Settings, settings)
}

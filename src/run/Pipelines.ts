import { Either } from "effect"
import { ConfigError } from "../domain/Errors.js"
import { CommandStage, Pipeline, type ProjectConfig } from "../domain/ProjectConfig.js"

export const DIAGNOSTICS: Pipeline = Pipeline.make({
  id: "diagnostics",
  title: "Diagnostics",
  description: "Build, lint, test and the spec guard, each as its own stage.",
  stages: [
    CommandStage.make({ kind: "command", id: "build", title: "Build", command: "npm run build" }),
    CommandStage.make({ kind: "command", id: "lint", title: "Lint", command: "npm run lint" }),
    CommandStage.make({ kind: "command", id: "test", title: "Test", command: "npm run test" }),
    CommandStage.make({ kind: "command", id: "spec-guard", title: "Spec guard", command: "bash scripts/spec-guard.sh --dry-run" })
  ]
})

export interface ResolvedPipeline {
  readonly pipeline: Pipeline
  readonly source: "default" | "user"
}

const FILE = "codex.orchestrator.json"

// The named pipeline, else the config's `defaultPipeline`, else `diagnostics` (a user pipeline shadows
// the built-in one); refused when it, or any sub-pipeline it reaches, is unknown or cyclic.
export const resolvePipeline = (config: ProjectConfig, id: string | undefined): Either.Either<ResolvedPipeline, ConfigError> => {
  const user = new Map(config.pipelines.map((p) => [p.id, p] as const))
  const lookup = (name: string): ResolvedPipeline | undefined => {
    const own = user.get(name)
    if (own !== undefined) return { pipeline: own, source: "user" }
    return name === DIAGNOSTICS.id ? { pipeline: DIAGNOSTICS, source: "default" } : undefined
  }
  const known = () => [...new Set([DIAGNOSTICS.id, ...user.keys()])].join(", ")

  const visit = (name: string, trail: ReadonlyArray<string>): ConfigError | undefined => {
    if (trail.includes(name)) return new ConfigError({ file: FILE, message: `${FILE}: sub-pipeline cycle ${[...trail, name].join(" → ")}` })
    const found = lookup(name)
    if (found === undefined) {
      const where = trail.length === 0 ? "" : ` (sub-pipeline of ${trail[trail.length - 1]})`
      return new ConfigError({ file: FILE, message: `unknown pipeline '${name}'${where}; known: ${known()}` })
    }
    for (const stage of found.pipeline.stages) {
      const problem = stage.kind === "subpipeline" ? visit(stage.pipeline, [...trail, name]) : undefined
      if (problem !== undefined) return problem
    }
    return undefined
  }

  const wanted = id ?? config.defaultPipeline ?? DIAGNOSTICS.id
  const problem = visit(wanted, [])
  const found = lookup(wanted)
  return problem === undefined && found !== undefined ? Either.right(found) : Either.left(problem ?? new ConfigError({ file: FILE, message: `unknown pipeline '${wanted}'` }))
}

/** Every stage environment a run of this project can set, for the one masker of the run. */
export const stageEnvironments = (config: ProjectConfig): ReadonlyArray<Readonly<Record<string, string>>> =>
  [...config.pipelines, DIAGNOSTICS].flatMap((pipeline) => pipeline.stages.flatMap((stage) => stage.kind === "command" ? [stage.env] : []))

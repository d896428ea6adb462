import { Schema } from "effect"
import { redactPatternProblem, redactPatternsProblem } from "./RedactPattern.js"

/** Text handed to the OS (a command line, a path, an environment entry) cannot carry a NUL byte. */
const OsText = Schema.String.pipe(
  Schema.filter((text) => !text.includes("\u0000"), { message: () => "must not contain a NUL character" })
)

const withDefault = <S extends Schema.Schema.AnyNoContext>(schema: S, value: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: value, exact: true })

export const DEFAULT_STOP_GRACE_MS = 2000

/** `codex.orchestrator.json` (CONTRACT §9); defaults are filled in here, once. */
export class CommandStage extends Schema.Class<CommandStage>("CommandStage")({
  kind: Schema.Literal("command"),
  id: Schema.NonEmptyString,
  title: Schema.String,
  command: Schema.NonEmptyString.pipe(Schema.compose(OsText)),
  cwd: Schema.optionalWith(OsText, { exact: true }),
  env: withDefault(Schema.Record({ key: OsText, value: OsText }), () => ({})),
  allowFailure: withDefault(Schema.Boolean, () => false),
  summaryHint: Schema.optionalWith(Schema.String, { exact: true }),
  timeoutMs: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { exact: true }),
  stopGraceMs: withDefault(Schema.Int.pipe(Schema.nonNegative()), () => DEFAULT_STOP_GRACE_MS)
}) {}

export class SubpipelineStage extends Schema.Class<SubpipelineStage>("SubpipelineStage")({
  kind: Schema.Literal("subpipeline"),
  id: Schema.NonEmptyString,
  title: Schema.String,
  pipeline: Schema.NonEmptyString,
  optional: withDefault(Schema.Boolean, () => false)
}) {}

export const Stage = Schema.Union(CommandStage, SubpipelineStage)
export type Stage = typeof Stage.Type

const firstRepeat = (ids: ReadonlyArray<string>): { readonly at: number; readonly first: number } | undefined => {
  const seen = new Map<string, number>()
  for (const [at, id] of ids.entries()) {
    const first = seen.get(id)
    if (first !== undefined) return { at, first }
    seen.set(id, at)
  }
  return undefined
}

export class Pipeline extends Schema.Class<Pipeline>("Pipeline")(
  Schema.Struct({
    id: Schema.NonEmptyString,
    title: Schema.String,
    description: Schema.optionalWith(Schema.String, { exact: true }),
    tags: Schema.optionalWith(Schema.Array(Schema.String), { exact: true }),
    stages: Schema.Array(Stage)
  }).pipe(Schema.filter((pipeline) => {
    const repeat = firstRepeat(pipeline.stages.map((stage) => stage.id))
    return repeat === undefined || {
      path: ["stages", repeat.at, "id"],
      message: `duplicate stage id '${pipeline.stages[repeat.at]!.id}' (also stages[${repeat.first}])`
    }
  }))
) {}

/** Every wait is drawn from [0.8, 1.2] × its exponential value. */
export const JITTER_MIN = 0.8
export const JITTER_MAX = 1.2
/** All waits for the task lock together, worst case, stay under this (CONTRACT §8). */
export const TOTAL_WAIT_LIMIT_MS = 3000

export interface LockRetryBudget {
  /** Attempts in all, the first included: `maxAttempts - 1` waits. */
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly backoffFactor: number
  /** Cap on one wait, applied after jitter; none when unset. */
  readonly maxDelayMs?: number | undefined
}

export const worstCaseWaitsMs = (policy: LockRetryBudget): ReadonlyArray<number> =>
  Array.from({ length: Math.max(0, policy.maxAttempts - 1) }, (_, retry) =>
    Math.min(policy.initialDelayMs * policy.backoffFactor ** retry * JITTER_MAX, policy.maxDelayMs ?? Number.POSITIVE_INFINITY))

export class LockRetrySettings extends Schema.Class<LockRetrySettings>("LockRetrySettings")(
  Schema.Struct({
    maxAttempts: withDefault(Schema.Int.pipe(Schema.between(1, 20)), () => 5),
    initialDelayMs: withDefault(Schema.Int.pipe(Schema.nonNegative()), () => 100),
    backoffFactor: withDefault(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), () => 2),
    maxDelayMs: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { exact: true })
  }).pipe(Schema.filter((policy) => {
    const total = worstCaseWaitsMs(policy).reduce((sum, wait) => sum + wait, 0)
    return total < TOTAL_WAIT_LIMIT_MS ||
      `waits add up to ${Math.round(total)} ms in the worst case (jitter included); they must stay under ${TOTAL_WAIT_LIMIT_MS} ms: ` +
        "lower maxAttempts, initialDelayMs, backoffFactor or maxDelayMs"
  }))
) {}

export const DEFAULT_LOCK_RETRY = LockRetrySettings.make({})

const RedactPattern = Schema.String.pipe(
  Schema.filter((pattern) => redactPatternProblem(pattern) === undefined, {
    message: (issue) => ({ message: redactPatternProblem(String(issue.actual)) ?? "is refused", override: true })
  })
)

export class ProjectConfig extends Schema.Class<ProjectConfig>("ProjectConfig")(
  Schema.Struct({
    defaultPipeline: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
    pipelines: withDefault(Schema.Array(Pipeline), () => []),
    persistence: withDefault(
      Schema.Struct({ lockRetry: withDefault(LockRetrySettings, () => DEFAULT_LOCK_RETRY) }),
      () => ({ lockRetry: DEFAULT_LOCK_RETRY })
    ),
    /** Regular expressions whose matches are masked as `***` wherever text leaves the process. */
    redact: withDefault(
      Schema.Array(RedactPattern).pipe(Schema.filter((patterns) => {
        const problem = redactPatternsProblem(patterns)
        return problem === undefined || { path: [problem.index], message: problem.message }
      })),
      () => []
    )
  }).pipe(Schema.filter((config) => {
    const repeat = firstRepeat(config.pipelines.map((pipeline) => pipeline.id))
    return repeat === undefined || {
      path: ["pipelines", repeat.at, "id"],
      message: `duplicate pipeline id '${config.pipelines[repeat.at]!.id}' (also pipelines[${repeat.first}])`
    }
  }))
) {}

export const ProjectConfigJson = Schema.parseJson(ProjectConfig)

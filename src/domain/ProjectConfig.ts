import { Schema } from "effect"

/** Text handed to the OS (a command line, a path, an environment entry) cannot carry a NUL byte. */
const OsText = Schema.String.pipe(
  Schema.filter((text) => !text.includes("\u0000"), { message: () => "must not contain a NUL character" })
)

/** `codex.orchestrator.json` (CONTRACT §9). */
export class CommandStage extends Schema.Class<CommandStage>("CommandStage")({
  kind: Schema.Literal("command"),
  id: Schema.NonEmptyString,
  title: Schema.String,
  command: Schema.NonEmptyString.pipe(Schema.compose(OsText)),
  cwd: Schema.optional(OsText),
  env: Schema.optional(Schema.Record({ key: OsText, value: OsText })),
  allowFailure: Schema.optional(Schema.Boolean),
  summaryHint: Schema.optional(Schema.String),
  timeoutMs: Schema.optional(Schema.Int.pipe(Schema.positive()))
}) {}

export class SubpipelineStage extends Schema.Class<SubpipelineStage>("SubpipelineStage")({
  kind: Schema.Literal("subpipeline"),
  id: Schema.NonEmptyString,
  title: Schema.String,
  pipeline: Schema.NonEmptyString,
  optional: Schema.optional(Schema.Boolean)
}) {}

export const Stage = Schema.Union(CommandStage, SubpipelineStage)
export type Stage = typeof Stage.Type

export class Pipeline extends Schema.Class<Pipeline>("Pipeline")({
  id: Schema.NonEmptyString,
  title: Schema.String,
  description: Schema.optional(Schema.String),
  tags: Schema.optional(Schema.Array(Schema.String)),
  stages: Schema.Array(Stage)
}) {}

export class LockRetrySettings extends Schema.Class<LockRetrySettings>("LockRetrySettings")({
  maxAttempts: Schema.optional(Schema.Int.pipe(Schema.between(1, 20))),
  initialDelayMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  backoffFactor: Schema.optional(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1))),
  maxDelayMs: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}) {}

export class ProjectConfig extends Schema.Class<ProjectConfig>("ProjectConfig")({
  defaultPipeline: Schema.optional(Schema.NonEmptyString),
  pipelines: Schema.optional(Schema.Array(Pipeline)),
  persistence: Schema.optional(Schema.Struct({ lockRetry: Schema.optional(LockRetrySettings) })),
  /** Regular expressions whose matches are masked as `***` in logs, summaries and error files. */
  redact: Schema.optional(Schema.Array(Schema.String))
}) {}

export const ProjectConfigJson = Schema.parseJson(ProjectConfig)

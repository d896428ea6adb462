import { Args, Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import type { Stage } from "../domain/ProjectConfig.js"
import { Pipelines } from "../run/Pipelines.js"
import { format, printJson, resolveTaskId, task } from "./shared.js"

const preview = (stage: Stage, index: number) =>
  stage.kind === "command"
    ? {
      index,
      id: stage.id,
      title: stage.title,
      kind: stage.kind,
      command: stage.command,
      cwd: stage.cwd ?? null,
      env: stage.env ?? {},
      allowFailure: stage.allowFailure ?? false,
      summaryHint: stage.summaryHint ?? null
    }
    : { index, id: stage.id, title: stage.title, kind: stage.kind, pipeline: stage.pipeline, optional: stage.optional ?? false }

export const plan = Command.make(
  "plan",
  {
    pipeline: Args.text({ name: "pipeline" }).pipe(Args.optional, Args.withDescription("pipeline id")),
    task,
    format
  },
  (options) =>
    Effect.gen(function*() {
      yield* resolveTaskId(options.task)
      const pipelines = yield* Pipelines
      const { pipeline, source } = yield* pipelines.resolve(Option.getOrUndefined(options.pipeline))
      const stages = pipeline.stages.map((stage, i) => preview(stage, i + 1))
      if (options.format === "json") {
        const subpipelines = pipeline.stages.filter((s) => s.kind === "subpipeline").length
        return yield* printJson({
          pipeline: { id: pipeline.id, title: pipeline.title, description: pipeline.description ?? null, source },
          stages,
          plan: {
            items: pipeline.stages.map((s) => ({ id: `${pipeline.id}:${s.id}`, description: s.title, requires_cloud: false })),
            notes: `${pipeline.stages.length} stage(s)${subpipelines > 0 ? `, ${subpipelines} sub-pipeline(s) run as child runs` : ""}; nothing is run by plan.`
          }
        })
      }
      const lines = [`Pipeline: ${pipeline.id} — ${pipeline.title} [${source}]`]
      pipeline.stages.forEach((stage, i) => {
        lines.push(`  ${i + 1}. [${stage.kind}] ${stage.title} (${stage.id})`)
        lines.push(stage.kind === "command" ? `     command: ${stage.command}` : `     pipeline: ${stage.pipeline}`)
      })
      yield* Console.log(lines.join("\n"))
    })
).pipe(Command.withDescription("Preview a pipeline's stages without running anything."))

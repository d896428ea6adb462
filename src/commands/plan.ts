import { Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import type { Stage } from "../domain/ProjectConfig.js"
import { Redaction } from "../domain/Redactor.js"
import { stripTerminalControls } from "../domain/TerminalText.js"
import { Project } from "../Project.js"
import { resolvePipeline } from "../run/Pipelines.js"
import { format, pipelineArg, printJson, task } from "./shared.js"

const preview = (stage: Stage, index: number) =>
  stage.kind === "command"
    ? {
      index,
      id: stage.id,
      title: stage.title,
      kind: stage.kind,
      command: stage.command,
      cwd: stage.cwd ?? null,
      env: stage.env,
      allowFailure: stage.allowFailure,
      summaryHint: stage.summaryHint ?? null
    }
    : { index, id: stage.id, title: stage.title, kind: stage.kind, pipeline: stage.pipeline, optional: stage.optional }

export const plan = Command.make(
  "plan",
  { pipeline: pipelineArg("pipeline id"), task, format },
  (options) =>
    Effect.gen(function*() {
      const redactor = yield* Redaction
      const config = yield* (yield* Project).config
      const { pipeline, source } = yield* resolvePipeline(config, Option.getOrUndefined(options.pipeline))
      if (options.format === "json") {
        const subpipelines = pipeline.stages.filter((s) => s.kind === "subpipeline").length
        return yield* printJson(redactor.maskJson({
          pipeline: { id: pipeline.id, title: pipeline.title, description: pipeline.description ?? null, source },
          stages: pipeline.stages.map((stage, i) => preview(stage, i + 1)),
          plan: {
            items: pipeline.stages.map((s) => ({ id: `${pipeline.id}:${s.id}`, description: s.title, requires_cloud: false })),
            notes: `${pipeline.stages.length} stage(s)${subpipelines > 0 ? `, ${subpipelines} sub-pipeline(s) run as child runs` : ""}; nothing is run by plan.`
          }
        }))
      }
      const lines = [`Pipeline: ${pipeline.id} — ${pipeline.title} [${source}]`]
      pipeline.stages.forEach((stage, i) => {
        lines.push(`  ${i + 1}. [${stage.kind}] ${stage.title} (${stage.id})`)
        lines.push(stage.kind === "command" ? `     command: ${stage.command}` : `     pipeline: ${stage.pipeline}`)
      })
      yield* Console.log(stripTerminalControls(redactor.mask(lines.join("\n"))))
    })
).pipe(Command.withDescription("Preview a pipeline's stages without running anything."))

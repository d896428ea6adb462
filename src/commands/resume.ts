import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { RunEngine } from "../run/RunEngine.js"
import { format } from "./shared.js"
import { reportRun } from "./start.js"

export const resume = Command.make(
  "resume",
  {
    run: Options.text("run").pipe(Options.withDescription("the run id to continue")),
    token: Options.text("token").pipe(Options.optional, Options.withDescription("the run's resume token (.resume-token)")),
    actor: Options.text("actor").pipe(Options.optional, Options.withDescription("who resumes (recorded)")),
    reason: Options.text("reason").pipe(Options.optional, Options.withDescription("why (recorded)")),
    format
  },
  (options) =>
    Effect.gen(function*() {
      const engine = yield* RunEngine
      const result = yield* engine.resume({
        runId: options.run,
        token: Option.getOrUndefined(options.token),
        actor: Option.getOrUndefined(options.actor),
        reason: Option.getOrUndefined(options.reason)
      })
      yield* reportRun(result, options.format)
    })
).pipe(Command.withDescription("Continue a failed, cancelled or stale run under the same run id."))

import { Cause, Config, Effect, HashMap, Layer, List, Logger, LogLevel } from "effect"
import { Redaction } from "./domain/Redactor.js"
import { stripTerminalControls } from "./domain/TerminalText.js"

const text = (message: unknown): string => (Array.isArray(message) ? message : [message]).map(String).join(" ")

// One line per thing that needs the user's attention (warnings and errors, masked, no fiber ids);
// `CODEX_ORCHESTRATOR_LOG=debug` (or `info`) shows more, with the detail of each line.
export const layer = (write: (line: string) => void): Layer.Layer<never, never, Redaction> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const redactor = yield* Redaction
    const level = yield* Config.literal("debug", "info", "warning")("CODEX_ORCHESTRATOR_LOG").pipe(Config.withDefault("warning"), Effect.orElseSucceed(() => "warning" as const))
    const detailed = level !== "warning"
    const logger = Logger.make(({ annotations, cause, date, fiberId, logLevel, message, spans }) => {
      let line = `codex-orchestrator: ${logLevel.label.toLowerCase()}: ${text(message)}`
      if (detailed) {
        const extra = [`at=${date.toISOString()}`, `fiber=${String(fiberId._tag === "Runtime" ? fiberId.id : fiberId._tag)}`]
        for (const [key, value] of HashMap.toEntries(annotations)) extra.push(`${key}=${String(value)}`)
        for (const span of List.toArray(spans)) extra.push(`span=${span.label}`)
        if (!Cause.isEmpty(cause)) extra.push(`cause=${JSON.stringify(Cause.pretty(cause))}`)
        line += ` (${extra.join(" ")})`
      }
      write(`${stripTerminalControls(redactor.mask(line))}\n`)
    })
    const minimum = level === "debug" ? LogLevel.Debug : level === "info" ? LogLevel.Info : LogLevel.Warning
    return Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(minimum))
  }))

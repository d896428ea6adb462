import { Effect } from "effect"
import { ConfigError } from "../../domain/Errors.js"

export const MASK = "***"
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH/i
const MIN_SECRET_LENGTH = 6
/** How far back a `redact` pattern match may reach across a chunk boundary and still be masked. */
export const PATTERN_WINDOW = 1024

/** Masks a stream of text pushed piece by piece; a secret split across pieces is still masked. */
export interface StreamMasker {
  readonly push: (text: string) => string
  readonly flush: () => string
}

export interface Redactor {
  readonly isEmpty: boolean
  readonly mask: (text: string) => string
  readonly streaming: () => StreamMasker
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")

/** The values worth masking: env values under secret-looking names, and each line of a multi-line one. */
export const secretValues = (env: Readonly<Record<string, string>>): ReadonlyArray<string> => {
  const values = new Set<string>()
  for (const [name, value] of Object.entries(env)) {
    if (!SECRET_NAME.test(name)) continue
    for (const candidate of [value, ...value.split(/\r?\n/)]) {
      const trimmed = candidate.trim()
      if (trimmed.length >= MIN_SECRET_LENGTH) values.add(trimmed)
    }
  }
  return [...values].sort((a, b) => b.length - a.length)
}

const identity: Redactor = {
  isEmpty: true,
  mask: (text) => text,
  streaming: () => ({ push: (text) => text, flush: () => "" })
}

const fromSource = (source: string, holdback: number): Redactor => {
  const mask = (text: string): string => text.replace(new RegExp(source, "g"), MASK)
  const streaming = (): StreamMasker => {
    let carry = ""
    return {
      push: (text) => {
        const combined = carry + text
        let cut = combined.length - holdback
        if (cut <= 0) {
          carry = combined
          return ""
        }
        const regex = new RegExp(source, "g")
        let out = ""
        let from = 0
        for (let match = regex.exec(combined); match !== null; match = regex.exec(combined)) {
          const end = match.index + match[0].length
          if (match[0].length === 0) {
            regex.lastIndex++
            continue
          }
          if (end > cut) {
            // A match reaching past the cut may still grow: keep all of it for the next piece.
            if (match.index < cut) cut = match.index
            break
          }
          out += combined.slice(from, match.index) + MASK
          from = end
        }
        out += combined.slice(from, cut)
        carry = combined.slice(cut)
        return out
      },
      flush: () => {
        const rest = mask(carry)
        carry = ""
        return rest
      }
    }
  }
  return { isEmpty: false, mask, streaming }
}

export const Redactor = {
  /** Fails with ConfigError when a `redact` pattern is not a valid regular expression. */
  make: (options: {
    readonly env: Readonly<Record<string, string>>
    readonly patterns?: ReadonlyArray<string> | undefined
  }): Effect.Effect<Redactor, ConfigError> =>
    Effect.gen(function* () {
      const patterns = options.patterns ?? []
      for (const [index, pattern] of patterns.entries()) {
        yield* Effect.try({
          try: () => new RegExp(pattern, "g"),
          catch: (error) =>
            new ConfigError({
              file: "codex.orchestrator.json",
              message: `redact[${index}] is not a valid regular expression: ${String(error)}`
            })
        })
      }
      const literals = secretValues(options.env)
      const alternatives = [...literals.map(escapeRegExp), ...patterns.map((pattern) => `(?:${pattern})`)]
      if (alternatives.length === 0) return identity
      const longestLiteral = literals.reduce((longest, value) => Math.max(longest, value.length), 0)
      const holdback = Math.max(longestLiteral - 1, patterns.length > 0 ? PATTERN_WINDOW : 0)
      return fromSource(alternatives.join("|"), holdback)
    })
}

import { Context } from "effect"
import { redactPatternProblem } from "./RedactPattern.js"

export { redactPatternProblem } from "./RedactPattern.js"

export const MASK = "***"
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH/i
const MIN_SECRET_LENGTH = 6
// The longest `redact` match masked as in the whole text whatever the chunk boundaries; a longer
// one still growing at a boundary is masked to its end, as one mask.
export const PATTERN_WINDOW = 4096
/** Input is taken this much at a time, so a regex only ever runs over a few tens of KiB. */
const SLICE = 16 * 1024
/** Input kept before the undecided text, so `^`, `\b` and lookbehinds see what the whole text shows. */
const LOOKBEHIND = 256
/** The start of a match too long to hold, kept to re-run the pattern from where the match began. */
const STEM = 1024

/** Masks a stream of text pushed piece by piece; a secret split across pieces is still masked. */
export interface StreamMasker {
  readonly push: (text: string) => string
  readonly flush: () => string
}

export interface Redactor {
  readonly isEmpty: boolean
  readonly mask: (text: string) => string
  /** String values are masked, keys are not. */
  readonly maskJson: (value: unknown) => unknown
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

// The password as the URL holds it and decoded (CONTRACT §11); one too short to mask alone is masked
// as `:password@`, which stays distinctive.
export const urlSecrets = (url: string): ReadonlyArray<string> => {
  try {
    const { password } = new URL(url)
    if (password === "") return []
    const forms = [...new Set([password, decodeURIComponent(password)])]
    return forms.every((form) => form.length >= MIN_SECRET_LENGTH) ? forms : [`:${password}@`]
  } catch {
    return []
  }
}

/** Shared by every masker of a Redactor: each use sets `lastIndex` first and runs to the end synchronously. */
interface Matcher {
  readonly global: RegExp
  readonly sticky: RegExp
  /** Input held back undecided, so a secret split across pieces is seen whole. */
  readonly hold: number
  /** A match reaching the held end and longer than this is masked at once and followed to its end. */
  readonly longest: number
}

/** A match too long to hold, already masked: the rest of it is swallowed as the input comes. */
interface LongMatch {
  /** For lookbehinds. */
  readonly lead: string
  readonly stem: string
  /** The latest end of the match, so a pattern needing more than the stem still matches. */
  readonly tail: string
  /** What the pattern is re-run over, sticky at `lead.length`, before the next input. */
  readonly context: string
}

const longMatch = (lead: string, stem: string, tail: string): LongMatch => ({
  lead,
  stem,
  tail,
  context: lead + stem + tail
})

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff

const streamingWith = (matcher: Matcher): StreamMasker => {
  // buffer[0, start) was passed on already and is kept only for lookbehinds; `fresh` counts what no scan saw.
  let buffer = ""
  let start = 0
  let fresh = 0
  let long: LongMatch | undefined

  const keepFrom = (text: string, at: number): void => {
    const from = Math.max(0, at - LOOKBEHIND)
    buffer = text.slice(from)
    start = at - from
  }

  const scan = (final: boolean): string => {
    let cut = final ? buffer.length : buffer.length - matcher.hold
    // A piece ending in half a character would be encoded as U+FFFD.
    if (!final && cut > start && isHighSurrogate(buffer.charCodeAt(cut - 1))) cut--
    if (cut <= start) return ""
    const { global } = matcher
    const text = buffer
    let out = ""
    let from = start
    global.lastIndex = start
    for (let match = global.exec(text); match !== null; match = global.exec(text)) {
      const length = match[0].length
      if (length === 0) {
        global.lastIndex = match.index + 1
        continue
      }
      if (match.index >= cut) break
      const end = match.index + length
      if (end > cut) {
        if (length <= matcher.longest) {
          // It may still grow with the next piece: decide it then.
          cut = match.index
          break
        }
        const lead = text.slice(Math.max(0, match.index - LOOKBEHIND), match.index)
        const stem = text.slice(match.index, match.index + STEM)
        long = longMatch(lead, stem, text.slice(Math.max(match.index + STEM, end - PATTERN_WINDOW), end))
        buffer = text.slice(end)
        start = 0
        return out + text.slice(from, match.index) + MASK
      }
      out += text.slice(from, match.index) + MASK
      from = end
    }
    keepFrom(text, cut)
    fresh = 0
    return out + text.slice(from, cut)
  }

  const swallow = (current: LongMatch, final: boolean): void => {
    const { sticky } = matcher
    const text = current.context + buffer
    sticky.lastIndex = current.lead.length
    const match = sticky.exec(text)
    const end = Math.max(current.context.length, current.lead.length + (match?.[0].length ?? 0))
    if (end === text.length && !final) {
      long = longMatch(current.lead, current.stem, (current.tail + buffer).slice(-PATTERN_WINDOW))
      buffer = ""
      return
    }
    keepFrom(text, end)
    fresh = buffer.length - start
    long = undefined
  }

  const drain = (final: boolean): string => {
    let out = ""
    for (;;) {
      if (long !== undefined) {
        // Re-running over the kept context costs no more than the new input.
        if (!final && buffer.length < long.context.length) return out
        swallow(long, final)
        if (long !== undefined) return out
      } else {
        // Rescanning the held input costs no more than the new input.
        if (!final && fresh < buffer.length - start - fresh) return out
        out += scan(final)
        if (long === undefined) return out
      }
    }
  }

  return {
    push: (text) => {
      let out = ""
      for (let offset = 0; offset < text.length; offset += SLICE) {
        const slice = text.slice(offset, offset + SLICE)
        buffer += slice
        fresh += slice.length
        out += drain(false)
      }
      return out
    },
    flush: () => {
      const out = drain(true)
      buffer = ""
      start = 0
      fresh = 0
      return out
    }
  }
}

const maskJsonWith =
  (mask: (text: string) => string) =>
  (value: unknown): unknown => {
    const copy = (item: unknown): unknown => {
      if (typeof item === "string") return mask(item)
      if (Array.isArray(item)) return item.map(copy)
      if (item !== null && typeof item === "object") {
        const record = item as Readonly<Record<string, unknown>>
        return Object.fromEntries(Object.keys(record).map((key) => [key, copy(record[key])]))
      }
      return item
    }
    return copy(value)
  }

const empty: Redactor = {
  isEmpty: true,
  mask: (text) => text,
  maskJson: (value) => value,
  streaming: () => ({ push: (text) => text, flush: () => "" })
}

const build = (options: {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly patterns?: ReadonlyArray<string> | undefined
  readonly literals?: ReadonlyArray<string> | undefined
}): Redactor => {
  const patterns = (options.patterns ?? []).filter((pattern) => redactPatternProblem(pattern) === undefined)
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(options.env)) if (value !== undefined) env[name] = value
  const literals = [...new Set([...secretValues(env), ...(options.literals ?? [])])]
    .filter((literal) => literal.length > 0)
    // At one position the longest literal wins, so no shorter one leaves its rest in clear.
    .sort((a, b) => b.length - a.length)
  if (literals.length === 0 && patterns.length === 0) return empty
  const source = [...literals.map(escapeRegExp), ...patterns.map((pattern) => `(?:${pattern})`)].join("|")
  const longestLiteral = literals[0]?.length ?? 0
  const window = patterns.length > 0 ? PATTERN_WINDOW : 0
  const matcher: Matcher = {
    global: new RegExp(source, "g"),
    sticky: new RegExp(source, "y"),
    hold: Math.max(longestLiteral - 1, window),
    longest: Math.max(longestLiteral, window)
  }
  const streaming = (): StreamMasker => streamingWith(matcher)
  const mask = (text: string): string => {
    const masker = streaming()
    return masker.push(text) + masker.flush()
  }
  return { isEmpty: false, mask, maskJson: maskJsonWith(mask), streaming }
}

export const Redactor = {
  empty,
  /** Assumes the patterns were checked with `redactPatternProblem` (the config's Schema does); a refused one is skipped. */
  build
}

/** Everything that leaves the process for disk or a terminal goes through this one masker. */
export class Redaction extends Context.Tag("codex-orchestrator/Redaction")<Redaction, Redactor>() {}

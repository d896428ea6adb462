import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { MASK, PATTERN_WINDOW, Redactor, redactPatternProblem, secretValues, urlSecrets } from "../../src/domain/Redactor.js"

const maskInPieces = (redactor: Redactor, text: string, cuts: ReadonlyArray<number>): string => {
  const masker = redactor.streaming()
  let out = ""
  let from = 0
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const at = Math.min(cut, text.length)
    out += masker.push(text.slice(from, Math.max(from, at)))
    from = Math.max(from, at)
  }
  return out + masker.push(text.slice(from)) + masker.flush()
}

/** Each push's output, then the flush's. */
const piecesOut = (redactor: Redactor, pieces: ReadonlyArray<string>): ReadonlyArray<string> => {
  const masker = redactor.streaming()
  return [...pieces.map((piece) => masker.push(piece)), masker.flush()]
}

const inPieces = (text: string, size: number): ReadonlyArray<string> => {
  const pieces: Array<string> = []
  for (let offset = 0; offset < text.length; offset += size) pieces.push(text.slice(offset, offset + size))
  return pieces
}

const LONG_LITERAL = ("Lq 9".repeat(19) + "\n").repeat(80)
const PATTERNS = ["ghp_[A-Za-z0-9]{36}", "secret[a-z]*", "(?<=pw:)\\S+", "\\bkey=\\w+", "BEGIN[^\\n]*?END"]
const SHORT_LITERALS = ["SECRET-abc123", "hunter2"]

describe("secretValues", () => {
  it("takes values of 6+ characters under secret-looking names, and each line of a multi-line one", () => {
    expect(
      secretValues({
        GITHUB_TOKEN: "ghp_abcdef",
        db_password: "hunter22",
        API_KEY: "short",
        AUTH_HEADER: "line-one\nline-two-long",
        HOME: "/home/someone",
        MyCredentials: "c-r-e-d-s"
      })
    ).toEqual(["line-one\nline-two-long", "line-two-long", "ghp_abcdef", "c-r-e-d-s", "hunter22", "line-one"])
  })
})

describe("redactPatternProblem", () => {
  it("accepts a pattern that always takes characters", () => {
    expect(redactPatternProblem("ghp_[A-Za-z0-9]{36}")).toBeUndefined()
    expect(redactPatternProblem("secret[a-z]*")).toBeUndefined()
  })

  it("refuses a pattern that can match the empty string", () => {
    for (const pattern of ["(secret)?", "x*", "\\b", "^", "$", "(?=a)", "(?<=a)", "a|", "[a-z]*"]) {
      expect(redactPatternProblem(pattern), pattern).toBe("can match the empty string")
    }
  })

  it("refuses an invalid pattern with the reason", () => {
    expect(redactPatternProblem("(unclosed")).toMatch(/^is not a valid regular expression: .*Unterminated group/)
  })
})

describe("Redactor", () => {
  it("masks env secrets and redact patterns", () => {
    const redactor = Redactor.build({ env: { NPM_TOKEN: "s3cr3t-value" }, patterns: ["ghp_[A-Za-z0-9]{8,}"] })
    expect(redactor.mask("token=s3cr3t-value and ghp_ABCDEFGH12 ok")).toBe("token=*** and *** ok")
  })

  it("is the identity when there is nothing to mask", () => {
    const redactor = Redactor.build({ env: { PATH: "/usr/bin:/bin" } })
    expect(redactor.isEmpty).toBe(true)
    expect(maskInPieces(redactor, "/usr/bin:/bin", [3])).toBe("/usr/bin:/bin")
  })

  it("refuses a pattern that can match the empty string, which would mask between every character", () => {
    expect(redactPatternProblem("(secret)?")).toBe("can match the empty string")
    expect(redactPatternProblem("\\b")).toBe("can match the empty string")
    expect(redactPatternProblem("ghp_\\w+")).toBeUndefined()
  })

  it("refuses a backreference, which would point into another pattern's groups once combined", () => {
    expect(redactPatternProblem("(a)\\1")).toBe("uses a backreference, which masking does not support")
    expect(redactPatternProblem("(?<x>a)\\k<x>")).toBe("uses a backreference, which masking does not support")
    expect(redactPatternProblem("a\\\\1")).toBeUndefined()
  })

  it("build skips a refused pattern rather than masking between characters", () => {
    const redactor = Redactor.build({ env: {}, patterns: ["(secret)?", "(unclosed"] })
    expect(redactor.isEmpty).toBe(true)
    expect(redactor.mask("hello")).toBe("hello")
  })

  it("masks extra literals, the longest first", () => {
    const redactor = Redactor.build({ env: {}, literals: ["pass", "password1", ""] })
    expect(redactor.mask("a password1 and a pass")).toBe("a *** and a ***")
    expect(Redactor.build({ env: {}, literals: [""] }).isEmpty).toBe(true)
  })

  it("masks every string value of a JSON-like value, not its keys", () => {
    const redactor = Redactor.build({ env: {}, literals: ["hunter2"] })
    const value = { hunter2: "pw hunter2", list: ["hunter2", 1, true, null, { deep: "xhunter2x" }], n: 3 }
    const masked = redactor.maskJson(value)
    expect(masked).toEqual({ hunter2: "pw ***", list: ["***", 1, true, null, { deep: "x***x" }], n: 3 })
    expect(value.list[0]).toBe("hunter2")
    expect(Redactor.empty.maskJson(value)).toBe(value)
  })

  it("masks a 10 MB match as one mask, whether pushed at once or in pieces", () => {
    const redactor = Redactor.build({ env: {}, patterns: ["secret[a-z]*"] })
    const line = "secret" + "a".repeat(10 * 1024 * 1024) + "\n"
    expect(redactor.mask(line)).toBe("***\n")
    expect(piecesOut(redactor, inPieces(line, 16 * 1024)).join("")).toBe("***\n")
    expect(redactor.mask(`before ${line}after`)).toBe("before ***\nafter")
  })

  it("masks a literal split at any position between two pieces", () => {
    const redactor = Redactor.build({ env: { MY_SECRET: "SECRET-abc123" }, patterns: ["ghp_[A-Z0-9]+"] })
    const text = "x".repeat(5000) + "SECRET-abc123" + "y".repeat(100)
    const expected = "x".repeat(5000) + MASK + "y".repeat(100)
    for (let at = 4990; at <= 5020; at++) {
      expect(piecesOut(redactor, [text.slice(0, at), text.slice(at)]).join(""), `split at ${at}`).toBe(expected)
    }
    const short = "ab" + "SECRET-abc123" + "cd"
    for (let at = 0; at <= short.length; at++) {
      expect(piecesOut(redactor, [short.slice(0, at), short.slice(at)]).join("")).toBe("ab***cd")
    }
  })

  it("masks a literal longer than the pattern window split anywhere", () => {
    const redactor = Redactor.build({ env: {}, patterns: ["ghp_[A-Z0-9]+"], literals: [LONG_LITERAL] })
    const text = "head " + LONG_LITERAL + " tail"
    for (let at = 0; at <= text.length; at += 97) {
      expect(piecesOut(redactor, [text.slice(0, at), text.slice(at)]).join("")).toBe("head *** tail")
    }
  })

  it("gives lookbehinds, \\b and ^ the text before a piece, wherever the text is split", () => {
    const redactor = Redactor.build({ env: {}, patterns: ["(?<=pw:)\\S+", "\\bkey=\\w+", "^head:\\w+"] })
    const after = ".".repeat(PATTERN_WINDOW + 100)
    const text = "head:one " + "x".repeat(300) + " pw:S3cr3t xkey=abc key=def head:two" + after
    const expected = "*** " + "x".repeat(300) + " pw:*** xkey=abc *** head:two" + after
    for (let at = PATTERN_WINDOW; at <= PATTERN_WINDOW + 400; at++) {
      expect(piecesOut(redactor, [text.slice(0, at), text.slice(at)]).join(""), `split at ${at}`).toBe(expected)
    }
  })

  it("never ends a piece's output in half a character", () => {
    const redactor = Redactor.build({ env: {}, literals: ["secret"] })
    const text = "😀".repeat(10_000) + "secret"
    const pieces = [0, 2, 6, 10, 100, 4000, 14_000, 16_500, 20_006].map((at, i, ats) => text.slice(at, ats[i + 1]))
    const outs = piecesOut(redactor, pieces)
    expect(outs.join("")).toBe("😀".repeat(10_000) + MASK)
    for (const out of outs) expect(/[\uD800-\uDBFF]$/.test(out)).toBe(false)
  })

  it("holds back a bounded amount however much is pushed", () => {
    const redactor = Redactor.build({ env: { DB_PASSWORD: "hunter2-db" }, patterns: ["secret[a-z]*"] })
    const ordinary = "the quick brown fox jumps over the lazy dog 0123456789 +/=\n".repeat(200_000)
    const masker = redactor.streaming()
    let pushed = 0
    let out = ""
    for (const piece of inPieces(ordinary, 64 * 1024)) {
      out += masker.push(piece)
      pushed += piece.length
      expect(pushed - out.length).toBeLessThanOrEqual(32 * 1024)
    }
    expect(out + masker.flush()).toBe(ordinary)
  })

  it("after a 10 MB match, output resumes with a bounded lag", () => {
    const redactor = Redactor.build({ env: {}, patterns: ["secret[a-z]*"] })
    const after = "\n" + "ordinary output line 0123456789\n".repeat(10_000)
    const masker = redactor.streaming()
    let out = ""
    for (const piece of inPieces("secret" + "a".repeat(10 * 1024 * 1024), 64 * 1024)) {
      out += masker.push(piece)
      expect(out === "" || out === MASK).toBe(true)
    }
    let pushed = 0
    for (const piece of inPieces(after, 64 * 1024)) {
      out += masker.push(piece)
      pushed += piece.length
      expect(MASK.length + pushed - out.length).toBeLessThanOrEqual(32 * 1024)
    }
    expect(out + masker.flush()).toBe(MASK + after)
  })

  it.effect.prop(
    "masks a secret split across pieces exactly as if the text came at once",
    [
      fc.array(fc.oneof(fc.constant("SECRET-abc123"), fc.constant("ghp_XYZ98765"), fc.string({ maxLength: 12 })), {
        maxLength: 12
      }),
      fc.array(fc.nat({ max: 160 }), { maxLength: 12 })
    ],
    ([parts, cuts]) =>
      Effect.sync(() => {
        const redactor = Redactor.build({ env: { MY_SECRET: "SECRET-abc123" }, patterns: ["ghp_[A-Z0-9]+"] })
        const text = parts.join("")
        const masked = maskInPieces(redactor, text, cuts)
        expect(masked).toBe(redactor.mask(text))
        expect(masked).not.toContain("SECRET-abc123")
      })
  )

  const filler = fc.integer({ min: 1, max: 60 }).map((lines) => ("+-=.".repeat(19) + "\n").repeat(lines))
  const part = fc.oneof(
    fc.constantFrom(
      ...SHORT_LITERALS,
      LONG_LITERAL,
      "ghp_" + "aB3".repeat(12),
      "secret",
      "pw:",
      "key=",
      "BEGIN",
      "END",
      " ",
      "\n",
      "😀"
    ),
    fc.string({ maxLength: 12 }),
    filler
  )

  it.prop(
    "output does not depend on where the text is split, for matches within the window",
    [
      fc.array(part, { maxLength: 30, size: "max" }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
      fc.boolean()
    ],
    ([parts, fractions, withLongLiteral]) => {
      const literals = withLongLiteral ? [...SHORT_LITERALS, LONG_LITERAL] : SHORT_LITERALS
      const redactor = Redactor.build({ env: {}, patterns: PATTERNS, literals })
      const text = parts.join("")
      const cuts = [...new Set(fractions.map((fraction) => Math.floor(fraction * text.length)))].sort((a, b) => a - b)
      const pieces = cuts.map((cut, i) => text.slice(cuts[i - 1] ?? 0, cut)).concat(text.slice(cuts.at(-1) ?? 0))
      const outs = piecesOut(redactor, pieces)
      const whole = redactor.mask(text)
      expect(outs.join("")).toBe(whole)
      for (const literal of literals) expect(whole).not.toContain(literal)
      // A piece ending in half a character would be written as U+FFFD.
      for (const out of outs.slice(0, -1)) expect(/[\uD800-\uDBFF]$/.test(out)).toBe(false)
    },
    { fastCheck: { numRuns: 200 } }
  )

  const noLowercase = fc.string({ unit: fc.constantFrom("A", "7", " ", "\n", "-", "_", "😀"), maxLength: 40 })
  const longMatches: ReadonlyArray<{ readonly pattern: string; readonly lead: string }> = [
    { pattern: "secret[a-z]*", lead: "secret" },
    { pattern: "[a-z]{40,}", lead: "" },
    { pattern: "[a-z]{2000,}", lead: "" },
    { pattern: "(?<=token=)[a-z]+", lead: "token=" }
  ]

  it.prop(
    "masks a match longer than the window to its end, wherever the text is split",
    [
      fc.constantFrom(...longMatches),
      fc.integer({ min: PATTERN_WINDOW, max: 40 * PATTERN_WINDOW }),
      fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz"), minLength: 1, maxLength: 64 }),
      noLowercase,
      noLowercase,
      fc.array(fc.oneof(fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 1, max: 70_000 })), {
        minLength: 1,
        maxLength: 8
      })
    ],
    ([{ lead, pattern }, length, unit, prefix, suffix, sizes]) => {
      const redactor = Redactor.build({ env: {}, patterns: [pattern] })
      const body = unit.repeat(Math.ceil(length / unit.length))
      const text = prefix + lead + body + suffix
      const pieces: Array<string> = []
      for (let offset = 0, i = 0; offset < text.length; i++) {
        const size = sizes[i % sizes.length]!
        pieces.push(text.slice(offset, offset + size))
        offset += size
      }
      const streamed = piecesOut(redactor, pieces).join("")
      expect(streamed).not.toMatch(/[a-z]{32}/)
      expect(streamed).toBe(prefix + (pattern.startsWith("(?<=") ? lead : "") + MASK + suffix)
      expect(redactor.mask(text)).toBe(streamed)
    },
    { fastCheck: { numRuns: 150 } }
  )
})

describe("urlSecrets", () => {
  it("gives the password as the URL holds it and decoded", () => {
    expect(urlSecrets("postgres://codex:pa%2Fss%40word9@db:5432/codex")).toEqual(["pa%2Fss%40word9", "pa/ss@word9"])
  })

  it("masks a password too short to mask alone only where the URL shows it", () => {
    const redactor = Redactor.build({ env: {}, literals: urlSecrets("postgres://codex:x@db/codex") })
    expect(redactor.mask("runner codex-cli at postgres://codex:x@db/codex")).toBe(`runner codex-cli at postgres://codex${MASK}db/codex`)
  })

  it("gives nothing for a URL without a password or that does not parse", () => {
    expect([urlSecrets("postgres://codex@db/codex"), urlSecrets("not a url")]).toEqual([[], []])
  })
})

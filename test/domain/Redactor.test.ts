import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { Redactor, secretValues } from "../../../src/run/output/Redactor.js"

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

describe("Redactor", () => {
  it.effect("masks env secrets and redact patterns", () =>
    Effect.gen(function* () {
      const redactor = yield* Redactor.make({ env: { NPM_TOKEN: "s3cr3t-value" }, patterns: ["ghp_[A-Za-z0-9]{8,}"] })
      expect(redactor.mask("token=s3cr3t-value and ghp_ABCDEFGH12 ok")).toBe("token=*** and *** ok")
    }))

  it.effect("is the identity when there is nothing to mask", () =>
    Effect.gen(function* () {
      const redactor = yield* Redactor.make({ env: { PATH: "/usr/bin:/bin" } })
      expect(redactor.isEmpty).toBe(true)
      expect(maskInPieces(redactor, "/usr/bin:/bin", [3])).toBe("/usr/bin:/bin")
    }))

  it.effect("refuses an invalid pattern with a ConfigError naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Redactor.make({ env: {}, patterns: ["ok", "(unclosed"] }))
      expect(error._tag).toBe("ConfigError")
      expect(error.message).toContain("redact[1]")
    }))

  it.effect.prop(
    "masks a secret split across pieces exactly as if the text came at once",
    [
      fc.array(fc.oneof(fc.constant("SECRET-abc123"), fc.constant("ghp_XYZ98765"), fc.string({ maxLength: 12 })), {
        maxLength: 12
      }),
      fc.array(fc.nat({ max: 160 }), { maxLength: 12 })
    ],
    ([parts, cuts]) =>
      Effect.gen(function* () {
        const redactor = yield* Redactor.make({ env: { MY_SECRET: "SECRET-abc123" }, patterns: ["ghp_[A-Z0-9]+"] })
        const text = parts.join("")
        const masked = maskInPieces(redactor, text, cuts)
        expect(masked).toBe(redactor.mask(text))
        expect(masked).not.toContain("SECRET-abc123")
      })
  )
})

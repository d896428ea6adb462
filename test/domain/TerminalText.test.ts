import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { stripTerminalControls } from "../../src/domain/TerminalText.js"

const DRIVES_A_TERMINAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/ // eslint-disable-line no-control-regex

describe("stripTerminalControls", () => {
  it("removes a title change and a screen clear", () => {
    expect(stripTerminalControls("\u001b]0;pwned\u0007\u001b[2Jhello")).toBe("hello")
  })

  it.each([
    ["CSI with parameters", "\u001b[1;31mred\u001b[0m", "red"],
    ["CSI with a private marker", "\u001b[?25lhidden cursor\u001b[?25h", "hidden cursor"],
    ["OSC ended by ESC \\", "\u001b]8;;https://example.com\u001b\\link\u001b]8;;\u001b\\", "link"],
    ["DCS", "a\u001bP1$r0m\u001b\\b", "ab"],
    ["APC, PM and SOS", "\u001b_apc\u001b\\\u001b^pm\u001b\\\u001bXsos\u001b\\ok", "ok"],
    ["two-character escapes", "\u001b7saved\u001b8 \u001bc", "saved "],
    ["a charset designation", "\u001b(Btext", "text"],
    ["8-bit CSI", "\u009b31mx\u009b0m", "x"],
    ["8-bit OSC ended by ST", "\u009d0;title\u009cy", "y"],
    ["other C1 controls", "a\u0085b\u008dc", "abc"],
    ["C0 controls but tab and newline", "a\rb\u0008c\u0007d\te\nf\u0000g\u007f", "abcd\te\nfg"],
    ["a lone ESC at the end", "tail\u001b", "tail"],
    ["ESC before a newline, keeping the newline", "a\u001b\nb", "a\nb"],
    ["an unterminated OSC, as the terminal would hide it", "ok\u001b]0;title", "ok"],
    ["a CSI cut short by a control", "\u001b[31\nx", "\nx"]
  ])("removes %s", (_name, text, expected) => {
    expect(stripTerminalControls(text)).toBe(expected)
  })

  it("keeps printable text, including non-ASCII, as it is", () => {
    const text = "naïve — ßé 😀\ttab\nline [x] ]0; \\"
    expect(stripTerminalControls(text)).toBe(text)
  })

  it.prop(
    "leaves nothing that drives a terminal, and is idempotent",
    [
      fc.array(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 8 }),
          fc.constantFrom("\u001b", "\u001b[", "\u001b]", "\u001bP", "\u001b\\", "\u0007", "\u009b", "\u009c", "m", ";")
        ),
        { maxLength: 20 }
      )
    ],
    ([parts]) => {
      const stripped = stripTerminalControls(parts.join(""))
      expect(DRIVES_A_TERMINAL.test(stripped)).toBe(false)
      expect(stripTerminalControls(stripped)).toBe(stripped)
    }
  )

  it.prop(
    "keeps text with no controls unchanged",
    [fc.string({ unit: fc.oneof(fc.char(), fc.constantFrom("\t", "\n", "é", "😀")) })],
    ([text]) => {
      expect(stripTerminalControls(text)).toBe(text)
    }
  )
})

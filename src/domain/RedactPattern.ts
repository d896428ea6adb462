const EMPTY_MATCH_PROBES = ["", " ", "a", "hello world", "A1_-.", "\n", "\t", "ßé", "0", "secret", "x\r\ny", "😀"]

const matchesEmpty = (regex: RegExp, text: string): boolean => {
  regex.lastIndex = 0
  for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
    if (match[0].length === 0) return true
  }
  return false
}

/** `\1` or `\k<name>` not itself escaped. */
const BACKREFERENCE = /(?:^|[^\\])(?:\\\\)*\\(?:[1-9]|k<)/

// All patterns are masked through one combined expression, where a backreference would point into
// another pattern's groups.
export const redactPatternProblem = (pattern: string): string | undefined => {
  let regex: RegExp
  try {
    regex = new RegExp(pattern, "g")
  } catch (error) {
    return `is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`
  }
  if (BACKREFERENCE.test(pattern)) return "uses a backreference, which masking does not support"
  // A pattern matching nothing would put a mask between every two characters.
  return EMPTY_MATCH_PROBES.some((probe) => matchesEmpty(regex, probe)) ? "can match the empty string" : undefined
}

/** The first pattern that cannot join the ones before it in the combined expression (a group name used twice). */
export const redactPatternsProblem = (patterns: ReadonlyArray<string>): { readonly index: number; readonly message: string } | undefined => {
  for (let index = 1; index < patterns.length; index++) {
    try {
      new RegExp(patterns.slice(0, index + 1).map((pattern) => `(?:${pattern})`).join("|"))
    } catch (error) {
      return { index, message: `cannot be combined with the patterns before it: ${error instanceof Error ? error.message : String(error)}` }
    }
  }
  return undefined
}

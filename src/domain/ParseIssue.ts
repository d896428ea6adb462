import { ParseResult } from "effect"

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, key) =>
    typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`, "")

/** `commands[0].title is missing`, or `wholeLabel` and the reason when the text itself is the problem. */
export const describeParseError = (error: ParseResult.ParseError, wholeLabel: string): string => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (first === undefined) return `${wholeLabel}: does not match the expected shape`
  const reason = first.message.split("\n")[0] ?? first.message
  return first.path.length === 0 ? `${wholeLabel}: ${reason}` : `${formatPath(first.path)}: ${reason}`
}

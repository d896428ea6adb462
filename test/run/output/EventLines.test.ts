import { describe, expect, it } from "@effect/vitest"
import { encodeEvents, OutputLineEncoder } from "../../../src/run/output/EventLines.js"

const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? new Uint8Array(0)).toString("utf8")
const utf8 = (value: string): Uint8Array => Buffer.from(value, "utf8")

describe("OutputLineEncoder", () => {
  it("writes each line exactly as the RunnerEvent schema would, whatever its timestamp", () => {
    const encoder = new OutputLineEncoder("command:stderr", 3)
    const stamps = ["2026-11-30T01:02:03.004Z", "2026-11-30T01:02:03.054Z", "+275760-09-13T00:00:00.000Z", 'odd "stamp"', "2026-12-01T00:00:00.000Z"]
    for (const [i, timestamp] of stamps.entries()) {
      const data = `line ${i} "quoted" é\n`
      expect(text(encoder.encode([utf8(data)], timestamp))).toBe(
        text(encodeEvents([{ type: "command:stderr", data, timestamp, index: 3 }]))
      )
    }
  })

  it("makes no line for a chunk that only starts a character, and finishes it in the next", () => {
    const encoder = new OutputLineEncoder("command:stdout", 1)
    const euro = utf8("€")
    expect(encoder.encode([euro.subarray(0, 2)], "2026-11-30T00:00:00.000Z")).toBeUndefined()
    const line = JSON.parse(text(encoder.encode([euro.subarray(2)], "2026-11-30T00:00:00.050Z")))
    expect(line).toEqual({ type: "command:stdout", data: "€", timestamp: "2026-11-30T00:00:00.050Z", index: 1 })
  })
})

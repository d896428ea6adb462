import { Schema } from "effect"
import { EncodedEvents, RunnerEvent } from "../../domain/Records.js"
import { withRoom } from "./Grow.js"
import { makeJsonEscaper, maxEscapedLength } from "./JsonEscape.js"

const RunnerEventJson = Schema.parseJson(RunnerEvent)
const encodeLine = Schema.encodeSync(RunnerEventJson)

/** Encodes events once so the same bytes can go to several logs (the stage log and runner.ndjson). */
export const encodeEvents = (events: ReadonlyArray<RunnerEvent>): EncodedEvents => {
  let text = ""
  for (const event of events) text += encodeLine(event) + "\n"
  return EncodedEvents(Buffer.from(text, "utf8"))
}

const DATA_START = '"data":"'
const TIMESTAMP_START = '"timestamp":"'
/** A timestamp JSON writes as it is (what toISOString gives), so it can be spliced into a line. */
const PLAIN_TIMESTAMP = /^[0-9TZ:.+-]+$/
const ESCAPE_SLICE_BYTES = 64 * 1024

// The schema encodes the envelope around an empty `data`, escaped byte for byte so no JS string is made
// of the output. Each line is a view into a buffer reused by the next call: write it before the next.
export class OutputLineEncoder {
  private readonly escaper = makeJsonEscaper()
  private buffer = Buffer.allocUnsafe(0)
  /** The schema's line around its first timestamp, so later lines only splice theirs in. */
  private envelope: { readonly before: string; readonly after: string } | undefined

  constructor(
    private readonly type: "command:stdout" | "command:stderr",
    private readonly index: number
  ) {}

  encode(chunks: Iterable<Uint8Array>, timestamp: string): EncodedEvents | undefined {
    return this.build(timestamp, (offset) => {
      let n = offset
      // Slice by slice, so the buffer grows with what the escapes really take, not 6 times the batch.
      for (const chunk of chunks) {
        for (let at = 0; at < chunk.length; at += ESCAPE_SLICE_BYTES) {
          const slice = chunk.subarray(at, at + ESCAPE_SLICE_BYTES)
          this.reserve(n + maxEscapedLength(slice.length + this.escaper.pendingBytes) + 256)
          n = this.escaper.escapeInto(slice, this.buffer, n)
        }
      }
      return n
    })
  }

  flush(timestamp: string): EncodedEvents | undefined {
    return this.build(timestamp, (offset) => this.escaper.flushInto(this.buffer, offset))
  }

  private reserve(bytes: number): void {
    this.buffer = withRoom(this.buffer, bytes, this.buffer.length)
  }

  private emptyLine(timestamp: string): string {
    if (this.envelope !== undefined && PLAIN_TIMESTAMP.test(timestamp)) {
      return this.envelope.before + timestamp + this.envelope.after
    }
    const json = encodeLine({ type: this.type, data: "", timestamp, index: this.index })
    const at = json.indexOf(`${TIMESTAMP_START}${timestamp}"`)
    if (at !== -1 && PLAIN_TIMESTAMP.test(timestamp)) {
      const start = at + TIMESTAMP_START.length
      this.envelope = { before: json.slice(0, start), after: json.slice(start + timestamp.length) }
    }
    return json
  }

  private build(timestamp: string, body: (offset: number) => number): EncodedEvents | undefined {
    const json = this.emptyLine(timestamp)
    const split = json.indexOf(DATA_START) + DATA_START.length
    const prefix = json.slice(0, split)
    const suffix = json.slice(split) + "\n"
    this.reserve(prefix.length + 256)
    const start = this.buffer.write(prefix, 0, "latin1")
    const end = body(start)
    if (end === start) return undefined
    this.reserve(end + suffix.length)
    const length = end + this.buffer.write(suffix, end, "latin1")
    return EncodedEvents(this.buffer.subarray(0, length))
  }
}

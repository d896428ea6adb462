import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { PassThrough } from "node:stream"
import { PendingOutput } from "../../src/run/output/PendingOutput.js"
import { pipeOf, takeOverPipe } from "../../src/run/NodeStageSpawner.js"

const request = { index: 4, command: "true", cwd: ".", env: {} }

/** Where Node offers no pipe handle to take over, the child's own stream is read ('data' events). */
describe("NodeStageSpawner's fallback reader", () => {
  it.live("reads a plain Readable to its end, pausing it while PendingOutput is full", () =>
    Effect.gen(function* () {
      const source = new PassThrough()
      const reader = takeOverPipe(source)
      expect(reader.socket).toBe(source)
      const pending = new PendingOutput(8, 16)
      const drained = yield* Effect.fork(pipeOf(request, "stdout", reader).drainInto(pending))
      const sent = Uint8Array.from({ length: 100 }, (_, i) => i)
      for (let at = 0; at < sent.length; at += 10) source.write(sent.subarray(at, at + 10))
      source.end()
      const received: Array<number> = []
      while (true) {
        yield* pending.ready
        // Never more than the limit and one piece held at once.
        expect(pending.pendingBytes).toBeLessThanOrEqual(16 + 10)
        const batch = pending.take()
        received.push(...batch.bytes)
        if (batch.ended) break
      }
      yield* Fiber.join(drained)
      expect(received).toEqual([...sent])
    }))

  it.live("reports a read error as StageSpawnError naming the stream", () =>
    Effect.gen(function* () {
      const source = new PassThrough()
      const pending = new PendingOutput()
      const drained = yield* Effect.fork(pipeOf(request, "stderr", takeOverPipe(source)).drainInto(pending))
      source.destroy(Object.assign(new Error("broken pipe"), { code: "EPIPE" }))
      const error = yield* Fiber.join(drained).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "StageSpawnError", reason: "EPIPE" })
      expect(error.message).toBe("stage 4 could not read stderr: broken pipe")
    }))
})

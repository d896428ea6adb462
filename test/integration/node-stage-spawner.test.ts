import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { spawn } from "node:child_process"
import { PassThrough } from "node:stream"
import { openPipe, type PipeReader, takeOverPipe } from "../../src/run/stage/NodeStageSpawner.js"

const request = { index: 4, command: "true", cwd: ".", env: {} }

const pipeStream = (name: string, reader: PipeReader) => Stream.unwrapScoped(openPipe(request, name, reader))

/** Copies each batch as it is pulled: a batch is only valid until the next pull. */
const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  Stream.runCollect(Stream.map(stream, (batch) => Uint8Array.from(batch))).pipe(
    Effect.map((chunks) => Buffer.concat(Chunk.toArray(chunks)))
  )

describe("NodeStageSpawner's pipe reader", () => {
  it.live("takes over a real child's pipe handle, so reads land in buffers of ours", () =>
    Effect.gen(function* () {
      // A Node upgrade that moves `_handle` would silently fall back to per-read buffers: this says so.
      const child = spawn("bash", ["-c", "printf 'one two'"], { stdio: ["ignore", "pipe", "pipe"] })
      const stdout = takeOverPipe(child.stdout)
      const stderr = takeOverPipe(child.stderr)
      expect([stdout.zeroCopy, stderr.zeroCopy]).toEqual([true, true])
      const bytes = yield* collect(pipeStream("stdout", stdout))
      yield* collect(pipeStream("stderr", stderr))
      expect(bytes.toString()).toBe("one two")
    }))

  it.live("falls back to a plain Readable, pausing it while the consumer has not pulled, every byte in order", () =>
    Effect.gen(function* () {
      const source = new PassThrough()
      const reader = takeOverPipe(source)
      expect([reader.socket, reader.zeroCopy]).toEqual([source, false])
      const fiber = yield* Effect.fork(collect(pipeStream("stdout", reader)))
      const sent = Uint8Array.from({ length: 100_000 }, (_, i) => i % 251)
      for (let at = 0; at < sent.length; at += 1000) source.write(sent.subarray(at, at + 1000))
      source.end()
      expect([...(yield* Fiber.join(fiber))]).toEqual([...sent])
    }))

  it.live("reports a read error as StageSpawnError naming the stream, after what was read", () =>
    Effect.gen(function* () {
      const source = new PassThrough()
      const fiber = yield* Effect.fork(Stream.runCollect(pipeStream("stderr", takeOverPipe(source))))
      source.write("partial")
      yield* Effect.sleep("60 millis")
      source.destroy(Object.assign(new Error("broken pipe"), { code: "EPIPE" }))
      const error = yield* Fiber.join(fiber).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "StageSpawnError", reason: "EPIPE" })
      expect(error.message).toBe("stage 4 could not read stderr: broken pipe")
    }))
})

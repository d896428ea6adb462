import { FileSystem } from "@effect/platform"
import { Deferred, Effect, Exit, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import type { Readable } from "node:stream"
import type { PendingOutput } from "./output/PendingOutput.js"
import {
  type ExitStatus,
  type OutputPipe,
  platformSpawnError,
  type SpawnedCommand,
  type SpawnRequest,
  StageSpawner,
  StageSpawnError
} from "./StageSpawner.js"

/** A pipe holds 64 KiB by default, so one read never returns more. */
const READ_BUFFER_BYTES = 64 * 1024

/** The part of libuv's stream handle this module relies on. */
interface StreamHandle {
  readonly readStart: () => number
  readonly readStop: () => number
}

const isStreamHandle = (value: unknown): value is StreamHandle =>
  typeof value === "object" && value !== null && "readStart" in value && "readStop" in value

/**
 * One output pipe of the child, paused until it is drained. `deliver` receives each read (the
 * buffer it landed in and its length); a false answer pauses the pipe until `resume`. `target`
 * chooses where the next read lands.
 */
interface PipeReader {
  readonly socket: Readable
  deliver: (buffer: Uint8Array, length: number) => boolean
  target: () => Uint8Array | undefined
  readonly resume: () => void
}

/**
 * Reads the child's pipe into buffers of ours. child_process wraps each pipe in a socket that
 * allocates a fresh buffer per read, which V8 frees only at its next GC: at 1 GiB of output those
 * buffers were ~40 MiB of the orchestrator's peak RSS. net.Socket can read into a buffer of ours
 * (`onread`), but child_process gives no way to ask for it, so the pipe's handle moves to a socket
 * of ours, paused, before the event loop has read anything. Each read lands straight in
 * PendingOutput's filling buffer (`readTarget`), else in one reused buffer and is copied from there. `_handle` is not public API: where it is
 * missing, the child's own socket is read ('data' events), which works the same, only with garbage.
 * Exported for tests of that fallback.
 */
export const takeOverPipe = (original: Readable): PipeReader => {
  const handle: unknown = (original as { _handle?: unknown })._handle
  if (original instanceof net.Socket && isStreamHandle(handle)) {
    ;(original as { _handle?: unknown })._handle = null
    original.destroy()
    const spare = Buffer.allocUnsafe(READ_BUFFER_BYTES)
    // The socket asks for its first buffer while it is being made, before there is a reader to ask.
    const hooks: Pick<PipeReader, "deliver" | "target"> = { deliver: () => false, target: () => undefined }
    const socket = new net.Socket({
      handle,
      readable: true,
      writable: false,
      pauseOnCreate: true,
      onread: {
        // Asked once now and again after every read.
        buffer: () => hooks.target() ?? spare,
        callback: (length: number, buffer: Uint8Array) => hooks.deliver(buffer, length)
      }
    } as net.SocketConstructorOpts)
    return Object.assign(hooks, { socket, resume: () => socket.resume() })
  }
  original.pause()
  const reader: PipeReader = {
    socket: original,
    deliver: () => false,
    target: () => undefined,
    resume: () => original.resume()
  }
  original.on("data", (chunk: Buffer) => {
    if (!reader.deliver(chunk, chunk.length)) original.pause()
  })
  return reader
}

/** Drains a taken-over pipe into a PendingOutput, pausing it while that is full. Exported for tests. */
export const pipeOf = (request: SpawnRequest, name: string, reader: PipeReader): OutputPipe => ({
  drainInto: (pending: PendingOutput) =>
    Effect.async<void, StageSpawnError>((resume) => {
      let finished = false
      const finish = (result: Effect.Effect<void, StageSpawnError>) => {
        if (finished) return
        finished = true
        pending.end()
        resume(result)
      }
      reader.deliver = (buffer, length) => pending.commit(buffer, length)
      reader.target = () => pending.readTarget()
      pending.onRoom(reader.resume)
      reader.socket.once("end", () => finish(Effect.void))
      reader.socket.once("close", () => finish(Effect.void))
      reader.socket.on("error", (error: NodeJS.ErrnoException) =>
        finish(Effect.fail(new StageSpawnError({
          index: request.index,
          reason: error.code ?? "Unknown",
          message: `stage ${request.index} could not read ${name}: ${error.message}`,
          cause: error
        })))
      )
      reader.resume()
      return Effect.sync(() => {
        finished = true
        pending.end()
        reader.socket.destroy()
      })
    })
})

interface Started {
  readonly child: ChildProcess
  readonly stdout: PipeReader
  readonly stderr: PipeReader
}

const startChild = (request: SpawnRequest, exited: Deferred.Deferred<ExitStatus>) =>
  Effect.async<Started, StageSpawnError>((resume) => {
    let settled = false
    const failed = (error: unknown) => {
      const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined
      return new StageSpawnError({
        index: request.index,
        reason: code ?? "Unknown",
        message: `stage ${request.index} could not start: ${error instanceof Error ? error.message : String(error)}`,
        cause: error
      })
    }
    let child: ChildProcess
    try {
      child = spawn("bash", ["-c", request.command], {
        cwd: request.cwd,
        env: { ...process.env, ...request.env },
        stdio: ["ignore", "pipe", "pipe"],
        // Its own process group, so a signal reaches everything the command started.
        detached: true
      })
    } catch (error) {
      // Arguments Node refuses before spawning (a NUL byte in the command or the environment).
      resume(Effect.fail(failed(error)))
      return
    }
    const stdout = takeOverPipe(child.stdout!)
    const stderr = takeOverPipe(child.stderr!)
    child.once("exit", (code, signal) => Deferred.unsafeDone(exited, Exit.succeed({ exitCode: code, signal })))
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (settled) return
      settled = true
      stdout.socket.destroy()
      stderr.socket.destroy()
      resume(Effect.fail(failed(error)))
    })
    child.once("spawn", () => {
      if (settled) return
      settled = true
      resume(Effect.succeed({ child, stdout, stderr }))
    })
  })

/** Signals the group; once the whole group is gone only the child itself is left to signal. */
const signalGroup = (child: ChildProcess, signal: NodeJS.Signals): void => {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    child.kill(signal)
  }
}

const spawnStage = (fs: FileSystem.FileSystem) => (request: SpawnRequest) =>
  Effect.gen(function* () {
    // Spawning in a missing directory fails as ENOENT, which reads like a missing shell.
    yield* fs.access(request.cwd).pipe(Effect.mapError(platformSpawnError(request, "could not start")))
    const exited = yield* Deferred.make<ExitStatus>()
    const { child, stderr, stdout } = yield* Effect.acquireRelease(startChild(request, exited), (started) =>
      Effect.gen(function* () {
        // StageProcess has already stopped the group with a grace period; this is the last resort.
        if (!(yield* Deferred.isDone(exited))) signalGroup(started.child, "SIGKILL")
        started.stdout.socket.destroy()
        started.stderr.socket.destroy()
      }))
    return {
      pid: child.pid!,
      exit: Deferred.await(exited),
      isRunning: Effect.map(Deferred.isDone(exited), (done) => !done),
      kill: (signal) => Effect.zipRight(Effect.sync(() => signalGroup(child, signal)), Deferred.await(exited)),
      stdout: pipeOf(request, "stdout", stdout),
      stderr: pipeOf(request, "stderr", stderr)
    } satisfies SpawnedCommand
  })

/** Stages as `bash -c` children of this Node process, each in its own process group. */
export const NodeStageSpawner: Layer.Layer<StageSpawner, never, FileSystem.FileSystem> = Layer.effect(
  StageSpawner,
  Effect.map(FileSystem.FileSystem, (fs) => ({ spawn: spawnStage(fs) }))
)

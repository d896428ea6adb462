import { FileSystem } from "@effect/platform"
import { Deferred, Duration, Effect, Exit, Layer, Option, type Scope, Stream } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import type { Readable } from "node:stream"
import { PendingOutput } from "../output/PendingOutput.js"
import { type ExitStatus, platformSpawnError, type SpawnedCommand, type SpawnRequest, StageSpawner, StageSpawnError } from "./StageSpawner.js"

/** A pipe holds 64 KiB by default, so one read never returns more. */
const READ_BUFFER_BYTES = 64 * 1024
/** Output short of a whole batch is let out within two of these. */
const FLUSH_PERIOD = Duration.millis(25)

interface StreamHandle {
  readonly readStart: () => number
  readonly readStop: () => number
}

const isStreamHandle = (value: unknown): value is StreamHandle =>
  typeof value === "object" && value !== null && "readStart" in value && "readStop" in value

/** Paused until read; a false answer from `deliver` pauses it until `resume`. */
export interface PipeReader {
  readonly socket: Readable
  readonly zeroCopy: boolean
  deliver: (buffer: Uint8Array, length: number) => boolean
  target: () => Uint8Array | undefined
  readonly resume: () => void
}

// child_process's socket allocates a buffer per read that V8 frees only at its next GC (~40 MiB of peak
// RSS at 1 GiB of output), so the handle moves, paused, to a socket reading into ours (`onread`).
// `_handle` is not public API: without it the child's own socket is read, the same only with garbage.
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
        buffer: () => hooks.target() ?? spare,
        callback: (length: number, buffer: Uint8Array) => hooks.deliver(buffer, length)
      }
    } as net.SocketConstructorOpts)
    return Object.assign(hooks, { socket, zeroCopy: true, resume: () => socket.resume() })
  }
  original.pause()
  const reader: PipeReader = { socket: original, zeroCopy: false, deliver: () => false, target: () => undefined, resume: () => original.resume() }
  original.on("data", (chunk: Buffer) => {
    if (!reader.deliver(chunk, chunk.length)) original.pause()
  })
  return reader
}

// A batch is valid until the next pull. Opened in the child's scope rather than by the stream itself:
// a scope and a fork less for each stream of a stage.
export const openPipe = (request: SpawnRequest, name: string, reader: PipeReader): Effect.Effect<Stream.Stream<Uint8Array, StageSpawnError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const pending = new PendingOutput()
    let failure: StageSpawnError | undefined
    const end = () => pending.end()
    reader.deliver = (buffer, length) => pending.commit(buffer, length)
    reader.target = () => pending.readTarget()
    pending.onRoom(reader.resume)
    reader.socket.once("end", end)
    reader.socket.once("close", end)
    reader.socket.on("error", (error: NodeJS.ErrnoException) => {
      failure = new StageSpawnError({
        index: request.index,
        reason: error.code ?? "Unknown",
        message: `stage ${request.index} could not read ${name}: ${error.message}`,
        cause: error
      })
      end()
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => reader.socket.destroy()))
    yield* Effect.forkScoped(pending.flushEvery(FLUSH_PERIOD))
    reader.resume()
    const pull: Effect.Effect<Uint8Array, Option.Option<StageSpawnError>> = Effect.flatMap(pending.ready, () => {
      const batch = pending.take()
      if (batch.bytes.length > 0) return Effect.succeed(batch.bytes)
      if (!batch.ended) return pull
      return Effect.fail(failure === undefined ? Option.none() : Option.some(failure))
    })
    return Stream.repeatEffectOption(pull)
  })

// Looked up once per PATH: spawning `bash` by name makes the kernel try every PATH entry before it
// (8 failed execve a stage on the CI image).
const shells = new Map<string, string>()
const shellFor = (env: Readonly<Record<string, string | undefined>>): string => {
  const searchPath = env["PATH"] ?? ""
  let shell = shells.get(searchPath)
  if (shell === undefined) {
    shell = searchPath.split(":").map((dir) => path.join(dir === "" ? "." : dir, "bash")).find((file) => {
      try {
        fs.accessSync(file, fs.constants.X_OK)
        return path.isAbsolute(file)
      } catch {
        return false
      }
    }) ?? "bash"
    shells.set(searchPath, shell)
  }
  return shell
}

interface Started {
  readonly child: ChildProcess
  readonly stdout: PipeReader
  readonly stderr: PipeReader
}

const startChild = (request: SpawnRequest, exited: Deferred.Deferred<ExitStatus>) =>
  Effect.async<Started, StageSpawnError>((resume) => {
    let settled = false
    const failed = (error: unknown) =>
      new StageSpawnError({
        index: request.index,
        reason: (error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined) ?? "Unknown",
        message: `stage ${request.index} could not start: ${error instanceof Error ? error.message : String(error)}`,
        cause: error
      })
    let child: ChildProcess
    try {
      // Its own process group (detached), so a signal reaches everything the command started.
      child = spawn(shellFor(request.env), ["-c", request.command], { cwd: request.cwd, env: request.env, stdio: ["ignore", "pipe", "pipe"], detached: true })
    } catch (error) {
      // Arguments Node refuses before spawning (a NUL byte in the command or the environment).
      return resume(Effect.fail(failed(error)))
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

const spawnStage = (files: FileSystem.FileSystem) => (request: SpawnRequest) =>
  Effect.gen(function*() {
    // Spawning in a missing directory fails as ENOENT, which reads like a missing shell.
    yield* files.access(request.cwd).pipe(Effect.mapError(platformSpawnError(request, "could not start")))
    const exited = yield* Deferred.make<ExitStatus>()
    const { child, stderr, stdout } = yield* Effect.acquireRelease(startChild(request, exited), (started, exit) =>
      Effect.flatMap(Deferred.isDone(exited), (done) =>
        Effect.sync(() => {
          // StageProcess stops the group with its grace period; this is the last resort, and on an
          // interruption it takes what the command left in its group too.
          if (!done || Exit.isFailure(exit)) signalGroup(started.child, "SIGKILL")
          started.stdout.socket.destroy()
          started.stderr.socket.destroy()
        })))
    return {
      pid: child.pid!,
      exit: Deferred.await(exited),
      signal: (signal) => Effect.sync(() => signalGroup(child, signal)),
      stdout: yield* openPipe(request, "stdout", stdout),
      stderr: yield* openPipe(request, "stderr", stderr),
      detach: Effect.sync(() => {
        stdout.socket.destroy()
        stderr.socket.destroy()
      })
    } satisfies SpawnedCommand
  })

export const NodeStageSpawner: Layer.Layer<StageSpawner, never, FileSystem.FileSystem> = Layer.effect(
  StageSpawner,
  Effect.map(FileSystem.FileSystem, (files) => ({ spawn: spawnStage(files) }))
)

import * as FileSystem from "@effect/platform/FileSystem"
import { BadArgument, type PlatformError, SystemError, type SystemErrorReason } from "@effect/platform/Error"
import { Clock, Context, Effect, Layer, Option, Stream } from "effect"
import * as posix from "node:path/posix"

/**
 * An in-memory disk for unit tests. It behaves like a POSIX disk where our code depends on it:
 * exclusive create ("wx"/"ax") fails with AlreadyExists, rename replaces an existing file atomically,
 * a missing parent directory fails with NotFound, open handles follow the file across renames (inodes),
 * modes are kept, and mtimes come from `Clock`, so TestClock ages files.
 *
 * Faults are injected through the `MemoryFileSystem` handle: `failNext("rename", (p) => p.endsWith(".json"), "EIO")`.
 * Paths are POSIX; relative paths resolve against "/". For `Path`, provide `Path.layer` from @effect/platform/Path.
 */

export type FaultReason = "ENOSPC" | "EIO" | "EACCES"

export type Operation =
  | "access"
  | "chmod"
  | "copyFile"
  | "link"
  | "makeDirectory"
  | "open"
  | "readDirectory"
  | "readFile"
  | "remove"
  | "rename"
  | "stat"
  | "sync"
  | "write"
  | "writeFile"

interface Fault {
  readonly operation: Operation
  readonly matches: (path: string) => boolean
  readonly reason: FaultReason
  readonly once: boolean
}

interface FileNode {
  readonly type: "File"
  data: Uint8Array
  mode: number
  mtimeMs: number
  readonly ino: number
}

interface DirectoryNode {
  readonly type: "Directory"
  mode: number
  mtimeMs: number
  readonly ino: number
}

type Node = FileNode | DirectoryNode

/** One call the file system saw, for tests that assert order or timing (`atMillis` is Clock time). */
export interface OperationRecord {
  readonly operation: Operation
  readonly path: string
  readonly flag?: FileSystem.OpenFlag
  readonly atMillis: number
}

export interface MemoryFileSystemShape {
  readonly failNext: (operation: Operation, matches: (path: string) => boolean, reason: FaultReason) => Effect.Effect<void>
  readonly failAlways: (operation: Operation, matches: (path: string) => boolean, reason: FaultReason) => Effect.Effect<void>
  readonly clearFaults: Effect.Effect<void>
  /** Writes a file, creating its parent directories; `mtimeMs` backdates it. */
  readonly seed: (path: string, content: string | Uint8Array, options?: { readonly mode?: number; readonly mtimeMs?: number }) => Effect.Effect<void>
  readonly readString: (path: string) => Effect.Effect<Option.Option<string>>
  /** Every file (not directory) at or below `under`, sorted. */
  readonly files: (under?: string) => Effect.Effect<ReadonlyArray<string>>
  readonly mode: (path: string) => Effect.Effect<Option.Option<number>>
  readonly setMtime: (path: string, mtimeMs: number) => Effect.Effect<void>
  readonly operations: Effect.Effect<ReadonlyArray<OperationRecord>>
}

const errnoReason: Record<FaultReason, { readonly reason: SystemErrorReason; readonly text: string }> = {
  ENOSPC: { reason: "Unknown", text: "ENOSPC: no space left on device" },
  EIO: { reason: "Unknown", text: "EIO: i/o error" },
  EACCES: { reason: "PermissionDenied", text: "EACCES: permission denied" }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const normalize = (path: string): string => posix.resolve("/", path)

const fail = (method: string, path: string, reason: SystemErrorReason, description: string) =>
  Effect.fail(new SystemError({ reason, module: "FileSystem", method, pathOrDescriptor: path, description }))

export const makeMemoryFileSystem = Effect.gen(function*() {
  const nodes = new Map<string, Node>()
  const faults: Array<Fault> = []
  const log: Array<OperationRecord> = []
  let nextIno = 1
  let nextTemp = 1
  const now = yield* Clock.currentTimeMillis
  nodes.set("/", { type: "Directory", mode: 0o755, mtimeMs: now, ino: nextIno++ })

  const record = (operation: Operation, path: string, flag?: FileSystem.OpenFlag) =>
    Effect.gen(function*() {
      const atMillis = yield* Clock.currentTimeMillis
      log.push(flag === undefined ? { operation, path, atMillis } : { operation, path, flag, atMillis })
      const index = faults.findIndex((fault) => fault.operation === operation && fault.matches(path))
      if (index === -1) return
      const fault = faults[index]!
      if (fault.once) faults.splice(index, 1)
      const { reason, text } = errnoReason[fault.reason]
      return yield* fail(operation, path, reason, `${text}, ${operation} '${path}' (injected)`)
    })

  const parentDirectory = (method: string, path: string): Effect.Effect<DirectoryNode, PlatformError> => {
    const parent = nodes.get(posix.dirname(path))
    if (parent === undefined) return fail(method, path, "NotFound", `ENOENT: no such file or directory, ${method} '${path}'`)
    if (parent.type !== "Directory") return fail(method, path, "BadResource", `ENOTDIR: not a directory, ${method} '${path}'`)
    return Effect.succeed(parent)
  }

  const existing = (method: string, path: string): Effect.Effect<Node, PlatformError> => {
    const node = nodes.get(path)
    return node === undefined
      ? fail(method, path, "NotFound", `ENOENT: no such file or directory, ${method} '${path}'`)
      : Effect.succeed(node)
  }

  const existingFile = (method: string, path: string): Effect.Effect<FileNode, PlatformError> =>
    Effect.flatMap(existing(method, path), (node) =>
      node.type === "File"
        ? Effect.succeed(node)
        : fail(method, path, "BadResource", `EISDIR: illegal operation on a directory, ${method} '${path}'`))

  const descendants = (path: string): Array<string> => {
    const prefix = path === "/" ? "/" : `${path}/`
    return [...nodes.keys()].filter((key) => key.startsWith(prefix) && key !== path)
  }

  const touch = (node: Node) => Effect.map(Clock.currentTimeMillis, (millis) => { node.mtimeMs = millis })

  /** Creates or opens a file node the way open(2) does for `flag`. */
  const openNode = (method: string, path: string, flag: FileSystem.OpenFlag, mode: number | undefined) =>
    Effect.gen(function*() {
      const exclusive = flag.includes("x")
      const creates = flag !== "r" && flag !== "r+"
      const current = nodes.get(path)
      if (current !== undefined) {
        if (exclusive) return yield* fail(method, path, "AlreadyExists", `EEXIST: file already exists, ${method} '${path}'`)
        if (current.type === "Directory") {
          if (flag === "r") return current
          return yield* fail(method, path, "BadResource", `EISDIR: illegal operation on a directory, ${method} '${path}'`)
        }
        if (flag.startsWith("w")) {
          current.data = new Uint8Array(0)
          yield* touch(current)
        }
        return current
      }
      if (!creates) return yield* fail(method, path, "NotFound", `ENOENT: no such file or directory, ${method} '${path}'`)
      yield* parentDirectory(method, path)
      const node: FileNode = {
        type: "File",
        data: new Uint8Array(0),
        mode: mode ?? 0o644,
        mtimeMs: yield* Clock.currentTimeMillis,
        ino: nextIno++
      }
      nodes.set(path, node)
      return node
    })

  const appendBytes = (node: FileNode, bytes: Uint8Array, at: number) =>
    Effect.gen(function*() {
      const length = Math.max(node.data.length, at + bytes.length)
      const next = new Uint8Array(length)
      next.set(node.data)
      next.set(bytes, at)
      node.data = next
      yield* touch(node)
    })

  const info = (node: Node): FileSystem.File.Info => ({
    type: node.type,
    mtime: Option.some(new Date(node.mtimeMs)),
    atime: Option.some(new Date(node.mtimeMs)),
    birthtime: Option.some(new Date(node.mtimeMs)),
    dev: 1,
    ino: Option.some(node.ino),
    mode: node.mode,
    nlink: Option.some(1),
    uid: Option.some(0),
    gid: Option.some(0),
    rdev: Option.none(),
    size: FileSystem.Size(node.type === "File" ? node.data.length : 4096),
    blksize: Option.some(FileSystem.Size(4096)),
    blocks: Option.none()
  })

  const makeFile = (path: string, node: Node, flag: FileSystem.OpenFlag, fd: number): FileSystem.File => {
    let position = 0
    const append = flag.startsWith("a")
    const asFile = (method: string) =>
      node.type === "File" ? Effect.succeed(node) : fail(method, path, "BadResource", `EISDIR: ${method} on a directory`)
    const write = (buffer: Uint8Array) =>
      Effect.gen(function*() {
        yield* record("write", path)
        const file = yield* asFile("write")
        const at = append ? file.data.length : position
        yield* appendBytes(file, buffer, at)
        position = at + buffer.length
        return FileSystem.Size(buffer.length)
      })
    return {
      [FileSystem.FileTypeId]: FileSystem.FileTypeId,
      fd: FileSystem.FileDescriptor(fd),
      stat: Effect.sync(() => info(node)),
      seek: (offset, from) =>
        Effect.sync(() => {
          position = from === "start" ? Number(offset) : position + Number(offset)
        }),
      sync: record("sync", path),
      read: (buffer) =>
        Effect.map(asFile("read"), (file) => {
          const chunk = file.data.subarray(position, position + buffer.length)
          buffer.set(chunk)
          position += chunk.length
          return FileSystem.Size(chunk.length)
        }),
      readAlloc: (size) =>
        Effect.map(asFile("readAlloc"), (file) => {
          const chunk = file.data.slice(position, position + Number(size))
          position += chunk.length
          return chunk.length === 0 ? Option.none() : Option.some(chunk)
        }),
      truncate: (length) =>
        Effect.map(asFile("truncate"), (file) => {
          file.data = file.data.slice(0, length === undefined ? 0 : Number(length))
        }),
      write,
      writeAll: (buffer) => Effect.asVoid(write(buffer))
    }
  }

  let nextFd = 3

  const fileSystem = FileSystem.make({
    access: (raw) => {
      const path = normalize(raw)
      return Effect.zipRight(record("access", path), Effect.asVoid(existing("access", path)))
    },
    chmod: (raw, mode) => {
      const path = normalize(raw)
      return Effect.gen(function*() {
        yield* record("chmod", path)
        const node = yield* existing("chmod", path)
        node.mode = mode
      })
    },
    chown: () => Effect.void,
    copy: (from, to) => fileSystem.copyFile(from, to),
    copyFile: (rawFrom, rawTo) => {
      const from = normalize(rawFrom)
      const to = normalize(rawTo)
      return Effect.gen(function*() {
        yield* record("copyFile", to)
        const source = yield* existingFile("copyFile", from)
        yield* parentDirectory("copyFile", to)
        nodes.set(to, { ...source, data: source.data.slice(), ino: nextIno++ })
      })
    },
    link: (rawFrom, rawTo) => {
      const from = normalize(rawFrom)
      const to = normalize(rawTo)
      return Effect.gen(function*() {
        yield* record("link", to)
        const source = yield* existingFile("link", from)
        yield* parentDirectory("link", to)
        if (nodes.has(to)) return yield* fail("link", to, "AlreadyExists", `EEXIST: file already exists, link '${from}' -> '${to}'`)
        nodes.set(to, source)
      })
    },
    makeDirectory: (raw, options) => {
      const path = normalize(raw)
      return Effect.gen(function*() {
        yield* record("makeDirectory", path)
        const millis = yield* Clock.currentTimeMillis
        const current = nodes.get(path)
        if (current !== undefined) {
          if (options?.recursive === true && current.type === "Directory") return
          return yield* fail("makeDirectory", path, "AlreadyExists", `EEXIST: file already exists, mkdir '${path}'`)
        }
        if (options?.recursive !== true) {
          yield* parentDirectory("makeDirectory", path)
          nodes.set(path, { type: "Directory", mode: options?.mode ?? 0o755, mtimeMs: millis, ino: nextIno++ })
          return
        }
        const missing: Array<string> = []
        for (let dir = path; !nodes.has(dir); dir = posix.dirname(dir)) missing.unshift(dir)
        for (const dir of missing) {
          const parent = nodes.get(posix.dirname(dir))
          if (parent?.type !== "Directory") {
            return yield* fail("makeDirectory", dir, "BadResource", `ENOTDIR: not a directory, mkdir '${dir}'`)
          }
          nodes.set(dir, { type: "Directory", mode: options.mode ?? 0o755, mtimeMs: millis, ino: nextIno++ })
        }
      })
    },
    makeTempDirectory: (options) =>
      Effect.gen(function*() {
        const dir = normalize(options?.directory ?? "/tmp")
        const path = posix.join(dir, `${options?.prefix ?? "mem-"}${nextTemp++}`)
        yield* fileSystem.makeDirectory(path, { recursive: true })
        return path
      }),
    makeTempDirectoryScoped: (options) =>
      Effect.acquireRelease(
        fileSystem.makeTempDirectory(options),
        (path) => Effect.orDie(fileSystem.remove(path, { recursive: true, force: true }))
      ),
    makeTempFile: (options) =>
      Effect.gen(function*() {
        const dir = yield* fileSystem.makeTempDirectory(options)
        const path = posix.join(dir, `file${options?.suffix ?? ""}`)
        yield* fileSystem.writeFile(path, new Uint8Array(0))
        return path
      }),
    makeTempFileScoped: (options) =>
      Effect.acquireRelease(
        fileSystem.makeTempFile(options),
        (path) => Effect.orDie(fileSystem.remove(posix.dirname(path), { recursive: true, force: true }))
      ),
    open: (raw, options) => {
      const path = normalize(raw)
      const flag = options?.flag ?? "r"
      return Effect.gen(function*() {
        yield* record("open", path, flag)
        const node = yield* openNode("open", path, flag, options?.mode)
        return makeFile(path, node, flag, nextFd++)
      })
    },
    readDirectory: (raw, options) => {
      const path = normalize(raw)
      return Effect.gen(function*() {
        yield* record("readDirectory", path)
        const node = yield* existing("readDirectory", path)
        if (node.type !== "Directory") return yield* fail("readDirectory", path, "BadResource", `ENOTDIR: not a directory, scandir '${path}'`)
        const below = descendants(path).map((child) => posix.relative(path, child))
        return options?.recursive === true ? below : below.filter((child) => !child.includes("/"))
      })
    },
    readFile: (raw) => {
      const path = normalize(raw)
      return Effect.zipRight(record("readFile", path), Effect.map(existingFile("readFile", path), (node) => node.data.slice()))
    },
    readLink: (raw) => Effect.fail(new BadArgument({ module: "FileSystem", method: "readLink", description: `symbolic links are not supported in memory: ${raw}` })),
    realPath: (raw) => {
      const path = normalize(raw)
      return Effect.as(existing("realPath", path), path)
    },
    remove: (raw, options) => {
      const path = normalize(raw)
      return Effect.gen(function*() {
        yield* record("remove", path)
        const node = nodes.get(path)
        if (node === undefined) {
          if (options?.force === true) return
          return yield* fail("remove", path, "NotFound", `ENOENT: no such file or directory, rm '${path}'`)
        }
        const below = descendants(path)
        if (node.type === "Directory" && below.length > 0 && options?.recursive !== true) {
          return yield* fail("remove", path, "Unknown", `ENOTEMPTY: directory not empty, rm '${path}'`)
        }
        for (const child of below) nodes.delete(child)
        nodes.delete(path)
      })
    },
    rename: (rawFrom, rawTo) => {
      const from = normalize(rawFrom)
      const to = normalize(rawTo)
      return Effect.gen(function*() {
        yield* record("rename", from)
        const source = yield* existing("rename", from)
        yield* parentDirectory("rename", to)
        if (from === to) return
        const target = nodes.get(to)
        if (target?.type === "Directory" && (source.type !== "Directory" || descendants(to).length > 0)) {
          return yield* fail("rename", to, "Unknown", `EISDIR/ENOTEMPTY: cannot rename '${from}' over '${to}'`)
        }
        if (source.type === "Directory") {
          for (const child of descendants(from)) {
            const node = nodes.get(child)!
            nodes.delete(child)
            nodes.set(posix.join(to, posix.relative(from, child)), node)
          }
        }
        nodes.delete(from)
        nodes.set(to, source)
      })
    },
    stat: (raw) => {
      const path = normalize(raw)
      return Effect.zipRight(record("stat", path), Effect.map(existing("stat", path), info))
    },
    symlink: (from) => Effect.fail(new BadArgument({ module: "FileSystem", method: "symlink", description: `symbolic links are not supported in memory: ${from}` })),
    truncate: (raw, length) => {
      const path = normalize(raw)
      return Effect.map(existingFile("truncate", path), (node) => {
        node.data = node.data.slice(0, length === undefined ? 0 : Number(length))
      })
    },
    utimes: (raw, _atime, mtime) => {
      const path = normalize(raw)
      return Effect.map(existing("utimes", path), (node) => {
        node.mtimeMs = typeof mtime === "number" ? mtime : mtime.getTime()
      })
    },
    watch: () => Stream.empty,
    writeFile: (raw, data, options) => {
      const path = normalize(raw)
      const flag = options?.flag ?? "w"
      return Effect.gen(function*() {
        yield* record("writeFile", path, flag)
        const node = yield* openNode("writeFile", path, flag, options?.mode)
        if (node.type !== "File") return yield* fail("writeFile", path, "BadResource", `EISDIR: illegal operation on a directory, open '${path}'`)
        yield* appendBytes(node, data, flag.startsWith("a") ? node.data.length : 0)
      })
    }
  })

  const addFault = (once: boolean) => (operation: Operation, matches: (path: string) => boolean, reason: FaultReason) =>
    Effect.sync(() => {
      faults.push({ operation, matches, reason, once })
    })

  const handle: MemoryFileSystemShape = {
    failNext: addFault(true),
    failAlways: addFault(false),
    clearFaults: Effect.sync(() => {
      faults.length = 0
    }),
    seed: (raw, content, options) =>
      Effect.gen(function*() {
        const path = normalize(raw)
        const saved = faults.splice(0)
        yield* Effect.orDie(fileSystem.makeDirectory(posix.dirname(path), { recursive: true }))
        yield* Effect.orDie(fileSystem.writeFile(path, typeof content === "string" ? encoder.encode(content) : content, options?.mode === undefined ? {} : { mode: options.mode }))
        faults.push(...saved)
        const node = nodes.get(path)!
        if (options?.mode !== undefined) node.mode = options.mode
        if (options?.mtimeMs !== undefined) node.mtimeMs = options.mtimeMs
      }),
    readString: (raw) =>
      Effect.sync(() => {
        const node = nodes.get(normalize(raw))
        return node?.type === "File" ? Option.some(decoder.decode(node.data)) : Option.none()
      }),
    files: (under = "/") =>
      Effect.sync(() => {
        const root = normalize(under)
        return [root, ...descendants(root)].filter((path) => nodes.get(path)?.type === "File").sort()
      }),
    mode: (raw) => Effect.sync(() => Option.map(Option.fromNullable(nodes.get(normalize(raw))), (node) => node.mode)),
    setMtime: (raw, mtimeMs) =>
      Effect.sync(() => {
        const node = nodes.get(normalize(raw))
        if (node !== undefined) node.mtimeMs = mtimeMs
      }),
    operations: Effect.sync(() => log.slice())
  }

  return { fileSystem, handle }
})

/** The fault and inspection handle of the in-memory disk provided alongside `FileSystem.FileSystem`. */
export class MemoryFileSystem extends Context.Tag("codex-orchestrator/test/MemoryFileSystem")<
  MemoryFileSystem,
  MemoryFileSystemShape
>() {
  /** A fresh empty disk per layer build: `FileSystem.FileSystem` plus the `MemoryFileSystem` handle. */
  static readonly layer: Layer.Layer<FileSystem.FileSystem | MemoryFileSystem> = Layer.effectContext(
    Effect.map(makeMemoryFileSystem, ({ fileSystem, handle }) =>
      Context.make(FileSystem.FileSystem, fileSystem).pipe(Context.add(MemoryFileSystem, handle)))
  )

  /** A disk seeded with `files` (path → content), parents created. */
  static readonly make = (
    options: { readonly files?: Readonly<Record<string, string>> } = {}
  ): Layer.Layer<FileSystem.FileSystem | MemoryFileSystem> =>
    Layer.effectContext(
      Effect.gen(function*() {
        const { fileSystem, handle } = yield* makeMemoryFileSystem
        for (const [path, content] of Object.entries(options.files ?? {})) yield* handle.seed(path, content)
        return Context.make(FileSystem.FileSystem, fileSystem).pipe(Context.add(MemoryFileSystem, handle))
      })
    )
}

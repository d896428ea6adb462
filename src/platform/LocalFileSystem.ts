import { Error as PlatformError, FileSystem } from "@effect/platform"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Effect, Layer, Option } from "effect"
import * as fs from "node:fs"

const reasonOf = (code: string | undefined): PlatformError.SystemErrorReason => {
  switch (code) {
    case "ENOENT":
      return "NotFound"
    case "EACCES":
      return "PermissionDenied"
    case "EEXIST":
      return "AlreadyExists"
    case "EISDIR":
    case "ENOTDIR":
    case "ELOOP":
      return "BadResource"
    case "EBUSY":
      return "Busy"
    default:
      return "Unknown"
  }
}

/** A call to node:fs on this thread, failing as NodeFileSystem fails (same reasons, same fields). */
const call = <A>(method: string, path: string, body: () => A): Effect.Effect<A, PlatformError.PlatformError> =>
  Effect.try({
    try: body,
    catch: (error) => {
      const errno = error as NodeJS.ErrnoException
      return errno.code === undefined
        ? new PlatformError.BadArgument({ module: "FileSystem", method, cause: error })
        : new PlatformError.SystemError({
          reason: reasonOf(errno.code),
          module: "FileSystem",
          method,
          pathOrDescriptor: path,
          ...(errno.syscall === undefined ? {} : { syscall: errno.syscall }),
          description: errno.message,
          cause: error
        })
    }
  })

const info = (stat: fs.Stats): FileSystem.File.Info => ({
  type: stat.isFile() ? "File" : stat.isDirectory() ? "Directory" : stat.isSymbolicLink() ? "SymbolicLink" : stat.isFIFO() ? "FIFO" : stat.isSocket() ? "Socket" : "Unknown",
  mtime: Option.fromNullable(stat.mtime),
  atime: Option.fromNullable(stat.atime),
  birthtime: Option.fromNullable(stat.birthtime),
  dev: stat.dev,
  rdev: Option.some(stat.rdev),
  ino: Option.some(stat.ino),
  mode: stat.mode,
  nlink: Option.some(stat.nlink),
  uid: Option.some(stat.uid),
  gid: Option.some(stat.gid),
  size: FileSystem.Size(stat.size),
  blksize: Option.some(FileSystem.Size(stat.blksize)),
  blocks: Option.some(stat.blocks)
})

// Calls on small files run on this thread: a few microseconds of kernel time, less than a libuv pool round
// trip. A rename over an existing file starts ext4's writeback (auto_da_alloc, ~0.3 ms), so rename stays
// on the pool, as do opened files (logs, fsync).
export const layer: Layer.Layer<FileSystem.FileSystem> = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, (node) =>
    FileSystem.make({
      ...node,
      access: (path, options) =>
        call("access", path, () => fs.accessSync(path, (options?.readable ? fs.constants.R_OK : 0) | (options?.writable ? fs.constants.W_OK : 0))),
      chmod: (path, mode) => call("chmod", path, () => fs.chmodSync(path, mode)),
      link: (from, to) => call("link", to, () => fs.linkSync(from, to)),
      makeDirectory: (path, options) =>
        call("makeDirectory", path, () => void fs.mkdirSync(path, { recursive: options?.recursive ?? false, ...(options?.mode === undefined ? {} : { mode: options.mode }) })),
      readDirectory: (path, options) => call("readDirectory", path, () => fs.readdirSync(path, { recursive: options?.recursive ?? false }) as Array<string>),
      readFile: (path) => call("readFile", path, () => fs.readFileSync(path) as Uint8Array),
      readLink: (path) => call("readLink", path, () => fs.readlinkSync(path)),
      realPath: (path) => call("realPath", path, () => fs.realpathSync(path)),
      remove: (path, options) => call("remove", path, () => fs.rmSync(path, { recursive: options?.recursive ?? false, force: options?.force ?? false })),
      stat: (path) => call("stat", path, () => info(fs.statSync(path))),
      symlink: (target, path) => call("symlink", path, () => fs.symlinkSync(target, path)),
      writeFile: (path, data, options) =>
        call("writeFile", path, () => fs.writeFileSync(path, data, { ...(options?.flag === undefined ? {} : { flag: options.flag }), ...(options?.mode === undefined ? {} : { mode: options.mode }) }))
    }))
).pipe(Layer.provide(NodeFileSystem.layer))

/**
 * Runs the built binary `dist/bin.cjs` as a user runs it: a real process, `cwd` and
 * `CODEX_ORCHESTRATOR_ROOT` the project root. Every temp project, spawned process and stage process
 * group (read from `*.pid` files a stage writes at the project root) is cleaned up after each test.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, expect } from "vitest"

export const repo = path.resolve(import.meta.dirname, "../../..")
export const bin = path.join(repo, "dist/bin.cjs")

/** Builds the binary when the install step did not (as bin.test.ts does). */
export const ensureBuilt = (): void => {
  if (!fs.existsSync(bin)) spawnSync(process.execPath, [path.join(repo, "scripts/build.mjs")], { cwd: repo, stdio: "inherit" })
}

// ---- environment ---------------------------------------------------------------------------------

/** Variables of the surrounding shell or test runner that would change what the binary does. */
const INHERITED_NOISE = /^(CODEX_ORCHESTRATOR_|MCP_RUNNER_TASK_ID$|NO_COLOR$|FORCE_COLOR$|CLICOLOR)/

export type EnvOverrides = Readonly<Record<string, string | undefined>>

export const envFor = (root: string, overrides: EnvOverrides = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!INHERITED_NOISE.test(name)) env[name] = value
  env["CODEX_ORCHESTRATOR_ROOT"] = root
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

// ---- cleanup registry ----------------------------------------------------------------------------

const roots = new Set<string>()
const children = new Set<ChildProcess>()

const killQuietly = (pid: number, signal: NodeJS.Signals = "SIGKILL"): void => {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/** Every process whose parent chain leads to `pid` (read from /proc). */
const descendantsOf = (pid: number): Array<number> => {
  const parents = new Map<number, Array<number>>()
  let entries: Array<string> = []
  try {
    entries = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return []
  }
  for (const name of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)])
    } catch {
      // exited meanwhile
    }
  }
  const found: Array<number> = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift() ?? -1) ?? []) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/** Kills every process this test started (and stage groups recorded in `*.pid`), removes its temp dirs. */
export const cleanup = (): void => {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      for (const descendant of descendantsOf(child.pid)) killQuietly(descendant)
      killQuietly(child.pid)
    }
  }
  children.clear()
  for (const root of roots) {
    let names: Array<string> = []
    try {
      names = fs.readdirSync(root)
    } catch {
      names = []
    }
    for (const name of names.filter((n) => n.endsWith(".pid"))) {
      const pid = Number(fs.readFileSync(path.join(root, name), "utf8").trim())
      if (Number.isInteger(pid) && pid > 1) {
        for (const descendant of descendantsOf(pid)) killQuietly(descendant)
        killQuietly(-pid)
        killQuietly(pid)
      }
    }
    fs.rmSync(root, { recursive: true, force: true })
  }
  roots.clear()
}

/** Registers the build step and the cleanup hooks in the calling test file. */
export const installHooks = (): void => {
  beforeAll(ensureBuilt)
  afterEach(cleanup)
  afterAll(cleanup)
}

// ---- projects ------------------------------------------------------------------------------------

/** A fresh project root in the OS temp dir, with an optional `codex.orchestrator.json`; removed after the test. */
export const project = (config?: unknown): string => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "codex-edge-")))
  roots.add(root)
  if (config !== undefined) fs.writeFileSync(path.join(root, "codex.orchestrator.json"), JSON.stringify(config, null, 2))
  return root
}

export const cmd = (id: string, command: string, extra: Record<string, unknown> = {}) => ({
  kind: "command",
  id,
  title: `Stage ${id}`,
  command,
  ...extra
})

export const sub = (id: string, pipeline: string, extra: Record<string, unknown> = {}) => ({
  kind: "subpipeline",
  id,
  title: `Sub ${id}`,
  pipeline,
  ...extra
})

export const pipeline = (id: string, stages: ReadonlyArray<unknown>) => ({ id, title: `Pipeline ${id}`, stages })

/** A project whose config holds one pipeline `p` with the given stages (plus any top-level extras). */
export const onePipeline = (stages: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}): string =>
  project({ pipelines: [pipeline("p", stages)], ...extra })

// ---- running the binary --------------------------------------------------------------------------

export interface BinResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env?: EnvOverrides | undefined
  /** Text fed on stdin (a pipe); without it stdin is /dev/null. */
  readonly input?: string | undefined
  /** The process is SIGKILLed after this long (a liveness bound, never a performance one). */
  readonly timeoutMs?: number | undefined
}

/** Runs the binary to completion. */
export const run = (root: string, args: ReadonlyArray<string>, options: RunOptions = {}): BinResult => {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    env: envFor(root, options.env),
    encoding: "utf8",
    input: options.input,
    stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    timeout: options.timeoutMs ?? 30_000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024
  })
  return { code: result.status, signal: result.signal, stdout: result.stdout ?? "", stderr: result.stderr ?? "" }
}

export interface Launched {
  readonly child: ChildProcess
  readonly pid: number
  readonly stdout: () => string
  readonly stderr: () => string
  /** The result once the process has exited, else undefined. */
  readonly exited: () => BinResult | undefined
  /** Resolves when the process has exited and its pipes are drained. */
  readonly done: Promise<BinResult>
}

/** Starts the binary without waiting for it; it is killed after the test if still running. */
export const launch = (root: string, args: ReadonlyArray<string>, options: { readonly env?: EnvOverrides } = {}): Launched => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: envFor(root, options.env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.add(child)
  let out = ""
  let err = ""
  let finished: BinResult | undefined
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
  const done = new Promise<BinResult>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => {
      finished = { code, signal, stdout: out, stderr: err }
      resolve(finished)
    })
  })
  return { child, pid: child.pid ?? -1, stdout: () => out, stderr: () => err, exited: () => finished, done }
}

/** The process's result, or a failure naming the bound when it does not exit within `ms`. */
export const within = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer))
}

// ---- polling -------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface WaitOptions {
  readonly timeoutMs?: number
  /** Give up at once, with its output, when this process exits before the wait is over. */
  readonly whileRunning?: Launched
}

/** Polls `check` until it returns a value other than undefined. */
export const waitUntil = async <A>(check: () => A | undefined, what: string, options: WaitOptions = {}): Promise<A> => {
  const timeoutMs = options.timeoutMs ?? 15_000
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const gone = options.whileRunning?.exited()
    if (gone !== undefined) {
      const lastLook = (() => {
        try {
          return check()
        } catch {
          return undefined
        }
      })()
      if (lastLook !== undefined) return lastLook
      throw new Error(
        `the process exited (code ${String(gone.code)}, signal ${String(gone.signal)}) before ${what}; stderr: ${gone.stderr.slice(0, 1500)}`
      )
    }
    let value: A | undefined
    try {
      value = check()
    } catch {
      value = undefined
    }
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

/** Waits until `file` exists (and is not empty). */
export const waitFor = (file: string, options: WaitOptions = {}): Promise<string> =>
  waitUntil(() => {
    const text = fs.readFileSync(file, "utf8")
    return text.length > 0 ? text : undefined
  }, file, options)

/** Waits for a pid file a stage writes with `echo $$ > FILE`. */
export const waitForPid = (file: string, options: WaitOptions = {}): Promise<number> =>
  waitUntil(() => {
    const match = /^(\d+)\n$/.exec(fs.readFileSync(file, "utf8"))
    return match?.[1] === undefined ? undefined : Number(match[1])
  }, `a pid in ${file}`, options)

/** Alive per `process.kill(pid, 0)`; a zombie left where PID 1 does not reap counts as dead. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return true
  }
}

/** True once `pid` is dead, polling up to `timeoutMs`; false when it is still alive by then. */
export const diesWithin = async (pid: number, timeoutMs = 3_000): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false
    await sleep(25)
  }
  return true
}

// ---- reading evidence ----------------------------------------------------------------------------

export const readJson = <A = Record<string, unknown>>(file: string): A => JSON.parse(fs.readFileSync(file, "utf8")) as A

export const readLines = (file: string): Array<Record<string, unknown>> =>
  fs.readFileSync(file, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as Record<string, unknown>)

export const runDir = (root: string, task: string, runId: string) => path.join(root, ".runs", task, "cli", runId)

export const manifestPath = (root: string, task: string, runId: string) => path.join(runDir(root, task, runId), "manifest.json")

export interface Manifest {
  readonly run_id: string
  readonly status: string
  readonly status_detail: string | null
  readonly summary: string | null
  readonly resume_events: ReadonlyArray<{ readonly outcome: string }>
  readonly child_runs: ReadonlyArray<{ readonly run_id: string; readonly status: string; readonly pipeline_id: string }>
  readonly commands: ReadonlyArray<{
    readonly id: string
    readonly status: string
    readonly command: string | null
    readonly sub_run_id: string | null
    readonly log_path: string | null
    readonly error_file: string | null
    readonly summary: string | null
  }>
}

export const manifestOf = (root: string, task: string, runId: string): Manifest => readJson<Manifest>(manifestPath(root, task, runId))

/** The run ids under `.runs/TASK/cli`, oldest first. */
export const runIds = (root: string, task: string): Array<string> => {
  const dir = path.join(root, ".runs", task, "cli")
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []
}

/** Every regular file under `dir`, recursively; symlinks are not followed. */
export const walkFiles = (dir: string): Array<string> => {
  if (!fs.existsSync(dir)) return []
  const files: Array<string> = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isSymbolicLink()) continue
    if (entry.isDirectory()) files.push(...walkFiles(full))
    else if (entry.isFile()) files.push(full)
  }
  return files
}

// ---- the shape of a refusal ----------------------------------------------------------------------

/**
 * Bad input (CONTRACT §2): exit code 2, stdout empty, stderr exactly one non-empty line starting
 * with `codex-orchestrator: `, no stack trace, and (when `root` is given) no `.runs/` or `out/` in it.
 * Returns the line.
 */
export const expectBadInput = (
  result: BinResult,
  options: { readonly root?: string; readonly mentions?: ReadonlyArray<string | RegExp>; readonly excludes?: ReadonlyArray<string> } = {}
): string => {
  const report = `exit ${String(result.code)} (signal ${String(result.signal)})\nstdout: ${JSON.stringify(result.stdout.slice(0, 2000))}\nstderr: ${JSON.stringify(result.stderr.slice(0, 2000))}`
  expect(result.code, report).toBe(2)
  expect(result.stdout, report).toBe("")
  expect(result.stderr, report).not.toMatch(/\s+at /)
  expect(result.stderr, report).toMatch(/^codex-orchestrator: [^\n]*\S[^\n]*\n?$/)
  const line = result.stderr.replace(/\n$/, "")
  for (const mention of options.mentions ?? []) {
    if (typeof mention === "string") expect(line, report).toContain(mention)
    else expect(line, report).toMatch(mention)
  }
  for (const excluded of options.excludes ?? []) expect(line, report).not.toContain(excluded)
  if (options.root !== undefined) {
    expect(fs.existsSync(path.join(options.root, ".runs")), `${report}\n.runs/ was created`).toBe(false)
    expect(fs.existsSync(path.join(options.root, "out")), `${report}\nout/ was created`).toBe(false)
  }
  return line
}

export const startAnswer = (stdout: string) =>
  JSON.parse(stdout) as { run_id: string; status: string; artifact_root: string; manifest: string; log_path: string }

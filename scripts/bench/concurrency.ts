/**
 * N concurrent `start` processes of the built CLI on one task, a one-stage `true` pipeline, default lock
 * policy. Per N: runs recorded in state.json directly, parked in OUT/TASK/pending/, lost (must be 0),
 * lock retry warnings on stderr, wall time and the children's CPU time; then one more `start` must merge
 * every parked summary and leave no lock file.
 *   npx tsx scripts/bench/concurrency.ts [--n 20,50,100,200] [--repeat R] [--bin dist/bin.cjs] [--json]
 */
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"

const repo = path.resolve(import.meta.dirname, "../..")
const arg = (name: string): string | undefined => {
  const at = process.argv.indexOf(name)
  return at > 0 ? process.argv[at + 1] : undefined
}
const TASK = "crowd"

export interface ConcurrencyTrial {
  readonly n: number
  /** Runs whose snapshot was written by their own process. */
  readonly recorded: number
  /** Runs whose process ran out of lock attempts and parked the summary (a later holder merged most). */
  readonly parked: number
  /** Parked summaries still waiting when the last of the N processes ended. */
  readonly stillParked: number
  /** Run ids printed by a start but found neither in state.json nor parked: must be 0. */
  readonly lost: number
  readonly failedStarts: number
  /** "lock ... is held by ... (attempt i of m)" warnings on the children's stderr. */
  readonly lockRetries: number
  /**
   * How long holders kept the lock, as seen by the others: per holder named in a retry warning, the
   * latest warning's time less its `acquired_at` (a lower bound). Median and max over holders, ms.
   */
  readonly observedHoldMs: { readonly holders: number; readonly median: number; readonly max: number }
  readonly wallMs: number
  /** user + sys of all N children, from the kernel's accounting of reaped children. */
  readonly cpuMs: number
  /** After one more start: every run in state.json, nothing parked, no lock file. */
  readonly mergedAfter: boolean
}

interface Child {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const runChild = (bin: string, env: NodeJS.ProcessEnv, cwd: string): Promise<Child> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "start", "one", "--task", TASK, "--format", "json"], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN

const runIdsIn = (root: string) => {
  const state = path.join(root, "out", TASK, "state.json")
  const recorded = existsSync(state)
    ? (JSON.parse(readFileSync(state, "utf8")) as { runs: Array<{ runId: string }> }).runs.map((run) => run.runId)
    : []
  const pendingDir = path.join(root, "out", TASK, "pending")
  const parked = existsSync(pendingDir)
    ? readdirSync(pendingDir).filter((name) => name.endsWith(".json") && !name.startsWith(".")).map((name) => name.slice(0, -5))
    : []
  return { recorded: new Set(recorded), parked: new Set(parked) }
}

/** The children's CPU time, read from /proc/self/stat (cutime + cstime, in clock ticks of 10 ms). */
const reapedChildrenCpuMs = (): number => {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(fields[13]) + Number(fields[14])) * 10
  } catch {
    return Number.NaN
  }
}

export const trial = async (bin: string, n: number): Promise<ConcurrencyTrial> => {
  const root = mkdtempSync(path.join(os.tmpdir(), `bench-crowd-${n}-`))
  try {
    writeFileSync(
      path.join(root, "codex.orchestrator.json"),
      JSON.stringify({ pipelines: [{ id: "one", title: "One", stages: [{ kind: "command", id: "t", title: "true", command: "true" }] }] })
    )
    mkdirSync(path.join(root, ".runs"), { recursive: true })
    const env = { ...process.env, CODEX_ORCHESTRATOR_ROOT: root }
    const cpuBefore = reapedChildrenCpuMs()
    const started = performance.now()
    const children = await Promise.all(Array.from({ length: n }, () => runChild(bin, env, root)))
    const wallMs = performance.now() - started
    const cpuMs = reapedChildrenCpuMs() - cpuBefore
    const runIds = children.flatMap((child) => {
      try {
        return [(JSON.parse(child.stdout) as { run_id: string }).run_id]
      } catch {
        return []
      }
    })
    const { recorded, parked } = runIdsIn(root)
    const lost = runIds.filter((id) => !recorded.has(id) && !parked.has(id)).length
    const lockRetries = children.reduce((sum, child) => sum + (child.stderr.match(/is held by .*\(attempt \d+ of \d+\)/g)?.length ?? 0), 0)
    const holds = new Map<string, number>()
    for (const child of children) {
      for (const match of child.stderr.matchAll(/timestamp=(\S+) .*?is held by pid (\d+) on \S+ since (\S+) \(attempt/g)) {
        const key = `${match[2]}@${match[3]}`
        holds.set(key, Math.max(holds.get(key) ?? 0, Date.parse(match[1]!) - Date.parse(match[3]!)))
      }
    }
    const holdValues = [...holds.values()]
    const parkedByChild = children.filter((child) => child.stderr.includes("summary parked at")).length
    const failed = children.find((child) => child.code !== 0 || child.stdout === "")
    if (failed !== undefined) process.stderr.write(`N = ${n}: a start exited ${failed.code}; its stderr ends:\n${failed.stderr.slice(-1500)}\n`)
    const last = await runChild(bin, env, root)
    const after = runIdsIn(root)
    const lastId = (JSON.parse(last.stdout) as { run_id: string }).run_id
    const mergedAfter = [...runIds, lastId].every((id) => after.recorded.has(id)) && after.parked.size === 0 &&
      !existsSync(path.join(root, ".runs", `${TASK}.lock`))
    return {
      n,
      recorded: runIds.length - parkedByChild,
      parked: parkedByChild,
      stillParked: runIds.filter((id) => parked.has(id) && !recorded.has(id)).length,
      lost,
      failedStarts: children.filter((child) => child.code !== 0 || child.stdout === "").length,
      lockRetries,
      observedHoldMs: { holders: holdValues.length, median: median(holdValues), max: Math.max(0, ...holdValues) },
      wallMs,
      cpuMs,
      mergedAfter
    }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

const main = async () => {
  const bin = path.resolve(arg("--bin") ?? path.join(repo, "dist/bin.cjs"))
  const ns = (arg("--n") ?? "20,50,100,200").split(",").map(Number)
  const repeat = Number(arg("--repeat") ?? "1")
  const json = process.argv.includes("--json")
  spawnSync(process.execPath, [bin, "--help"], { stdio: "ignore" })
  const trials: Array<ConcurrencyTrial> = []
  for (let r = 0; r < repeat; r++) {
    for (const n of ns) {
      const t = await trial(bin, n)
      trials.push(t)
      if (!json) console.error(JSON.stringify(t))
    }
  }
  if (json) {
    console.log(JSON.stringify({ section: "concurrency", bin, cpus: os.cpus().length, trials }))
    return
  }
  console.log(`\n${ns.length} sizes x ${repeat} trials, ${bin}, ${os.cpus().length} cpus; medians over trials (min–max)`)
  console.log("| N | recorded directly | parked | still parked at the end | lost | lock retry warnings | observed hold ms (median / max) | wall s | children CPU s | merged by next start |")
  console.log("|---|---|---|---|---|---|---|---|---|---|")
  for (const n of ns) {
    const of = trials.filter((t) => t.n === n)
    const span = (pick: (t: ConcurrencyTrial) => number, digits = 0) => {
      const values = of.map(pick)
      const m = median(values).toFixed(digits)
      return of.length > 1 ? `${m} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})` : m
    }
    console.log(
      `| ${n} | ${span((t) => t.recorded)} | ${span((t) => t.parked)} | ${span((t) => t.stillParked)} | ${span((t) => t.lost)} | ${span((t) => t.lockRetries)} | ${span((t) => t.observedHoldMs.median)} / ${span((t) => t.observedHoldMs.max)} | ${
        span((t) => t.wallMs / 1000, 1)
      } | ${span((t) => t.cpuMs / 1000, 1)} | ${of.every((t) => t.mergedAfter) ? "yes" : "NO"} |`
    )
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  await main()
}

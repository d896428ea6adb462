// The physical floor of a run, for the CLI bench: plain Node, no Effect, no validation. Each stage is one
// `bash -c true` in its own process group with piped output and one atomic manifest write (temp + rename).
// Usage: node scripts/bench/floor.mjs STAGES
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const stages = Number(process.argv[2] ?? "1")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "codex-floor-"))
const manifest = { status: "in_progress", commands: Array.from({ length: stages }, (_, i) => ({ index: i + 1, status: "pending", exit_code: null })) }
const write = () => {
  const temp = path.join(dir, `.manifest.json.${process.pid}.tmp`)
  fs.writeFileSync(temp, JSON.stringify(manifest, null, 2))
  fs.renameSync(temp, path.join(dir, "manifest.json"))
}
const stage = (entry) =>
  new Promise((resolve) => {
    const child = spawn("bash", ["-c", "true"], { stdio: ["ignore", "pipe", "pipe"], detached: true })
    child.stdout.resume()
    child.stderr.resume()
    child.on("close", (code) => {
      entry.status = code === 0 ? "succeeded" : "failed"
      entry.exit_code = code
      write()
      resolve()
    })
  })

const main = async () => {
  write()
  for (const entry of manifest.commands) await stage(entry)
  manifest.status = "succeeded"
  write()
  fs.rmSync(dir, { recursive: true, force: true })
}
await main()

import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach } from "vitest"

const script = fileURLToPath(new URL("../../scripts/spec-guard.sh", import.meta.url))
const TODAY = "2026-11-29"

const scratch = realpathSync(tmpdir())
const created: Array<string> = []

// Our own git identity and no user or system config, so the host's settings cannot change results;
// the ceiling keeps git from finding a repository above a scratch directory.
const gitEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_AUTHOR_NAME: "spec-guard test",
  GIT_AUTHOR_EMAIL: "spec-guard@example.invalid",
  GIT_COMMITTER_NAME: "spec-guard test",
  GIT_COMMITTER_EMAIL: "spec-guard@example.invalid",
  GIT_CEILING_DIRECTORIES: scratch
}

const tempDir = (): string => {
  const dir = mkdtempSync(path.join(scratch, "spec-guard-"))
  created.push(dir)
  return dir
}

afterEach(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const git = (cwd: string, ...args: Array<string>): string => {
  const result = spawnSync("git", args, { cwd, env: gitEnv, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`)
  return result.stdout
}

const write = (root: string, file: string, text: string): void => {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
  writeFileSync(path.join(root, file), text)
}

/** A repository on `main` with one commit holding a source file and a freshly reviewed doc. */
const repo = (): string => {
  const root = tempDir()
  git(root, "init", "-q", "-b", "main")
  write(root, "src/index.ts", "export const x = 1\n")
  write(root, "docs/PRD.md", `last_review: ${TODAY}\n# PRD\n`)
  git(root, "add", ".")
  git(root, "commit", "-q", "-m", "initial")
  return root
}

const guard = (cwd: string, args: Array<string> = [], env: Record<string, string> = {}) => {
  const result = spawnSync("bash", [script, ...args], {
    cwd,
    env: { ...gitEnv, SPEC_GUARD_TODAY: TODAY, ...env },
    encoding: "utf8"
  })
  const lines = result.stdout.trimEnd().split("\n")
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, lines, last: lines.at(-1) }
}

describe("spec-guard.sh", () => {
  it("passes when nothing changed", () => {
    const result = guard(repo())
    expect(result.code).toBe(0)
    expect(result.lines).toEqual([
      "ok   docs-updated: no source changes against HEAD (uncommitted changes)",
      "ok   docs-budget: docs/ holds 2 lines of Markdown, within its budget of 200 (src/ has 1 lines)",
      `ok   last-review docs/PRD.md: ${TODAY} (0 days old)`,
      "spec-guard: 3 passed, 0 failed"
    ])
    expect(result.stderr).toBe("")
  })

  it("fails when source changed without docs, and only reports with --dry-run", () => {
    const root = repo()
    write(root, "src/index.ts", "export const x = 2\n")
    write(root, "scripts/new.sh", "echo new\n")

    const failing = guard(root)
    expect(failing.code).toBe(1)
    expect(failing.stdout).toContain(
      "FAIL docs-updated: 2 source file(s) changed against HEAD (uncommitted changes) without a change under docs/: scripts/new.sh src/index.ts"
    )
    expect(failing.last).toBe("spec-guard: 2 passed, 1 failed")

    const dryRun = guard(root, ["--dry-run"])
    expect(dryRun.code).toBe(0)
    expect(dryRun.stdout).toBe(failing.stdout)
  })

  it("passes when source and docs changed together", () => {
    const root = repo()
    write(root, "src/index.ts", "export const x = 2\n")
    write(root, "docs/TECH_SPEC.md", "# Tech spec\n")
    const result = guard(root)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("ok   docs-updated: 1 source file(s) and 1 doc(s) changed against HEAD")
    expect(result.last).toBe("spec-guard: 3 passed, 0 failed")
  })

  it("counts a shortened or deleted page as a docs change", () => {
    const root = repo()
    write(root, "docs/GUIDE.md", "# guide\nline\nline\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "guide")
    write(root, "src/index.ts", "export const x = 2\n")
    write(root, "docs/GUIDE.md", "# guide\n")
    expect(guard(root).stdout).toContain("ok   docs-updated: 1 source file(s) and 1 doc(s) changed against HEAD")
    rmSync(path.join(root, "docs/GUIDE.md"))
    expect(guard(root).stdout).toContain("ok   docs-updated: 1 source file(s) and 1 doc(s) changed against HEAD")
  })

  it("fails docs that grow past one line for every 5 of src/, whatever else changed", () => {
    const root = repo()
    write(root, "src/big.ts", "export const y = 1\n".repeat(1_500))
    write(root, "docs/LONG.md", "words\n".repeat(299))
    const over = guard(root)
    expect(over.code).toBe(1)
    expect(over.stdout).toContain(
      "FAIL docs-budget: docs/ holds 301 lines of Markdown, over its budget of 300 (src/ has 1501 lines); rewrite what is no longer true instead of adding"
    )
    write(root, "docs/LONG.md", "words\n".repeat(298))
    const fits = guard(root)
    expect(fits.code).toBe(0)
    expect(fits.stdout).toContain("ok   docs-budget: docs/ holds 300 lines of Markdown, within its budget of 300 (src/ has 1501 lines)")
  })

  it("ignores changes outside the source directories and markdown beside scripts", () => {
    const root = repo()
    write(root, "README.md", "# readme\n")
    write(root, "scripts/NOTES.md", "notes\n")
    write(root, "package.json", "{}\n")
    expect(guard(root).code).toBe(0)
  })

  it("compares a branch's commits with its merge-base on main", () => {
    const root = repo()
    git(root, "checkout", "-q", "-b", "feature")
    write(root, "src/index.ts", "export const x = 2\n")
    git(root, "commit", "-q", "-am", "change source")

    const failing = guard(root)
    expect(failing.code).toBe(1)
    expect(failing.stdout).toMatch(/FAIL docs-updated: 1 source file\(s\) changed against main \(merge-base [0-9a-f]{12}\)/)

    write(root, "docs/PRD.md", `last_review: ${TODAY}\n# PRD, revised\n`)
    git(root, "commit", "-q", "-am", "document it")
    expect(guard(root).code).toBe(0)
  })

  it("counts unpushed commits on main against origin/main", () => {
    const origin = repo()
    const root = path.join(tempDir(), "clone")
    git(path.dirname(root), "clone", "-q", origin, root)
    write(root, "src/index.ts", "export const x = 2\n")
    git(root, "commit", "-q", "-am", "unpushed source change")

    const result = guard(root)
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/FAIL docs-updated: 1 source file\(s\) changed against origin\/main \(merge-base/)
  })

  it("takes the base from SPEC_GUARD_BASE and refuses one that does not exist", () => {
    const root = repo()
    const first = git(root, "rev-parse", "HEAD").trim()
    write(root, "src/index.ts", "export const x = 2\n")
    git(root, "commit", "-q", "-am", "change source on main")

    expect(guard(root).code).toBe(0)
    const against = guard(root, [], { SPEC_GUARD_BASE: first })
    expect(against.code).toBe(1)
    expect(against.stdout).toContain(`FAIL docs-updated: 1 source file(s) changed against ${first}`)

    const missing = guard(root, [], { SPEC_GUARD_BASE: "no-such-ref" })
    expect(missing.code).toBe(1)
    expect(missing.stdout).toContain("FAIL docs-updated: base 'no-such-ref' (SPEC_GUARD_BASE) is not a commit here")
  })

  it("fails a stale last_review and names the file", () => {
    const root = repo()
    write(root, "docs/guide/OLD.md", "last_review: 2026-10-29\n# old\n")
    write(root, "docs/EDGE.md", "last_review: 2026-10-30\n# exactly 30 days\n")
    write(root, "docs/NONE.md", "# carries no review line\n")
    const result = guard(root)
    expect(result.code).toBe(1)
    expect(result.stdout).toContain("FAIL last-review docs/guide/OLD.md: 2026-10-29 is 31 days old (limit 30)")
    expect(result.stdout).toContain("ok   last-review docs/EDGE.md: 2026-10-30 (30 days old)")
    expect(result.stdout).not.toContain("NONE.md")
    expect(result.last).toBe("spec-guard: 4 passed, 1 failed")
  })

  it("fails an unparseable or impossible last_review date, naming the file", () => {
    const root = repo()
    write(root, "docs/BAD.md", "last_review: soon\n")
    write(root, "docs/FEB.md", "last_review: 2026-02-30\n")
    const result = guard(root)
    expect(result.code).toBe(1)
    expect(result.stdout).toContain("FAIL last-review docs/BAD.md: 'soon' is not a YYYY-MM-DD date")
    expect(result.stdout).toContain("FAIL last-review docs/FEB.md: '2026-02-30' is not a YYYY-MM-DD date")
  })

  it("passes fresh docs across a leap day and a year end", () => {
    const root = repo()
    write(root, "docs/LEAP.md", "last_review:   2028-02-29  \n")
    const leap = guard(root, [], { SPEC_GUARD_TODAY: "2028-03-30" })
    expect(leap.stdout).toContain("ok   last-review docs/LEAP.md: 2028-02-29 (30 days old)")
    write(root, "docs/LEAP.md", "last_review: 2026-12-15\n")
    const yearEnd = guard(root, [], { SPEC_GUARD_TODAY: "2027-01-14" })
    expect(yearEnd.stdout).toContain("ok   last-review docs/LEAP.md: 2026-12-15 (30 days old)")
  })

  it("skips the change check outside a git checkout but still checks the docs", () => {
    const root = tempDir()
    write(root, "src/index.ts", "export const x = 1\n")
    write(root, "docs/PRD.md", `last_review: ${TODAY}\n`)
    const result = guard(root)
    expect(result.code).toBe(0)
    expect(result.lines).toEqual([
      "skip docs-updated: not a git checkout",
      "ok   docs-budget: docs/ holds 1 lines of Markdown, within its budget of 200 (src/ has 1 lines)",
      `ok   last-review docs/PRD.md: ${TODAY} (0 days old)`,
      "spec-guard: 2 passed, 0 failed"
    ])
  })

  it("refuses an unknown flag with one line on stderr and exit 2", () => {
    const result = guard(repo(), ["--dry-rnu"])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain("unknown flag '--dry-rnu'")
  })
})

/**
 * One database per test on the shared server of postgresGlobalSetup.ts (the role `codex` has CREATEDB):
 * `freshDatabase()` answers the URL of a new, empty database; every database made here is dropped in
 * `afterAll` of the file that called `dropDatabasesAfterAll()`. `query` asks any of them through psql.
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as net from "node:net"
import { promisify } from "node:util"
import { afterAll, inject } from "vitest"

const exec = promisify(execFile)
const made = new Set<string>()

/** The shared server's own URL (the `codex` database). */
export const serverUrl = (): string => inject("pgUrl")

/** The same server and role, another database. */
export const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** Runs SQL through psql and answers the rows of the last statement as JSON objects. */
export const query = async <A = Record<string, unknown>>(url: string, sql: string): Promise<Array<A>> => {
  const wrapped = /^\s*(select|with)\b/i.test(sql) ? `select coalesce(json_agg(q), '[]'::json) from (${sql}) as q` : sql
  const { stdout } = await exec("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", wrapped], { timeout: 20_000 })
  if (!/^\s*(select|with)\b/i.test(sql)) return []
  return JSON.parse(stdout.trim() || "[]") as Array<A>
}

/** A new empty database on the shared server; its URL. */
export const freshDatabase = async (): Promise<string> => {
  const name = `h_${randomBytes(6).toString("hex")}`
  await query(serverUrl(), `create database ${name}`)
  made.add(name)
  return withDatabase(serverUrl(), name)
}

export const dropDatabases = async (): Promise<void> => {
  for (const name of made) {
    await query(serverUrl(), `drop database if exists ${name} with (force)`).catch(() => undefined)
    made.delete(name)
  }
}

/** Registers the drop of every database this file made. */
export const dropDatabasesAfterAll = (): void => {
  afterAll(dropDatabases, 30_000)
}

/** The URL's password, as the server knows it. */
export const passwordOf = (url: string): string => decodeURIComponent(new URL(url).password)

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export const deadPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

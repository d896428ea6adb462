import { Brand, Either, Schema } from "effect"

const ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** Names the layout of CONTRACT §1 gives a meaning of its own under RUNS (case-folding file systems included). */
const LAYOUT_NAMES = /^local-mcp$|\.lock(\.takeover)?$/i

export const taskIdProblem = (value: string): string | undefined => {
  if (!ID_RULE.test(value)) return "must be 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit"
  if (value.includes("..")) return "must not contain '..'"
  if (LAYOUT_NAMES.test(value)) return "must not end in '.lock' (nor '.lock.takeover') or be 'local-mcp': the runs directory uses those names itself"
  return undefined
}

const refused = (what: string, problem: (value: string) => string | undefined) =>
  Schema.filter<typeof Schema.String>((value) => problem(value) === undefined, {
    message: (issue) => ({ message: `${what} ${JSON.stringify(issue.actual)} ${problem(String(issue.actual))}`, override: true })
  })

export type TaskId = string & Brand.Brand<"TaskId">
export const TaskId = Schema.String.pipe(refused("task id", taskIdProblem), Schema.brand("TaskId"))

/** `2025-10-31T22-56-34-431Z-9574035c`: the UTC start time with `:` and `.` made `-`, then 8 hex digits. */
const RUN_ID_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]{8}$/

export type RunId = string & Brand.Brand<"RunId">
export const RunId = Schema.String.pipe(
  refused("run id", (value) => RUN_ID_SHAPE.test(value) ? undefined : "must look like 2025-10-31T22-56-34-431Z-9574035c"),
  Schema.brand("RunId")
)

const messageOf = (value: string, problem: string | undefined, what: string) => `${what} ${JSON.stringify(value)} ${problem}`

export const decodeTaskId = (value: string): Either.Either<TaskId, string> =>
  taskIdProblem(value) === undefined ? Either.right(TaskId.make(value)) : Either.left(messageOf(value, taskIdProblem(value), "task id"))

export const isRunId = (value: string): value is RunId => RUN_ID_SHAPE.test(value)

export const decodeRunId = (value: string): Either.Either<RunId, string> =>
  isRunId(value) ? Either.right(value) : Either.left(messageOf(value, "must look like 2025-10-31T22-56-34-431Z-9574035c", "run id"))

export const makeRunId = (startedAtMillis: number, random: Uint8Array): RunId => {
  const stamp = new Date(startedAtMillis).toISOString().replace(/[:.]/g, "-")
  const hex = Array.from(random.slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join("")
  return `${stamp}-${hex}` as RunId
}

/** Stage ids become file names: runs outside [A-Za-z0-9] turn into one `-`, trimmed, at most 80 characters. */
export const slugify = (id: string): string => {
  const slug = id.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80).replace(/-+$/, "")
  return slug.length > 0 ? slug : "stage"
}

/** `NN-SLUG` for stage NN (1-based). */
export const stageFileStem = (index: number, id: string): string =>
  `${String(index).padStart(2, "0")}-${slugify(id)}`

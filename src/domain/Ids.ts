import { Brand, Either, Schema } from "effect"

const ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Why an id is refused, or undefined when it may name a directory. */
export const idProblem = (value: string): string | undefined => {
  if (!ID_RULE.test(value)) {
    return "must be 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit"
  }
  if (value.includes("..")) {
    return "must not contain '..'"
  }
  return undefined
}

const directorySafe = <A extends string>(label: string) =>
  Schema.filter<Schema.Schema<A, string>>((value) => {
    const problem = idProblem(value)
    return problem === undefined ? undefined : `${label} ${JSON.stringify(value)} ${problem}`
  })

export type TaskId = string & Brand.Brand<"TaskId">
export const TaskId = Schema.String.pipe(
  directorySafe("task id"),
  Schema.brand("TaskId")
)

/** `2025-10-31T22-56-34-431Z-9574035c`: the UTC start time with `:` and `.` made `-`, then 8 hex digits. */
const RUN_ID_SHAPE = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]{8}$/

export type RunId = string & Brand.Brand<"RunId">
export const RunId = Schema.String.pipe(
  Schema.filter((value) =>
    RUN_ID_SHAPE.test(value)
      ? undefined
      : `run id ${JSON.stringify(value)} must look like 2025-10-31T22-56-34-431Z-9574035c`
  ),
  Schema.brand("RunId")
)

export const decodeTaskId = (value: string): Either.Either<TaskId, string> =>
  Either.mapLeft(Schema.decodeEither(TaskId)(value), () => {
    const problem = idProblem(value) ?? "is not a valid task id"
    return `task id ${JSON.stringify(value)} ${problem}`
  })

export const decodeRunId = (value: string): Either.Either<RunId, string> =>
  Either.mapLeft(
    Schema.decodeEither(RunId)(value),
    () => `run id ${JSON.stringify(value)} must look like 2025-10-31T22-56-34-431Z-9574035c`
  )

/** Builds a run id from a start time (epoch millis) and 4 random bytes. */
export const makeRunId = (startedAtMillis: number, random: Uint8Array): RunId => {
  const stamp = new Date(startedAtMillis).toISOString().replace(/[:.]/g, "-")
  const hex = Array.from(random.slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join("")
  return RunId.make(`${stamp}-${hex}`)
}

/** Stage ids become file names: runs outside [A-Za-z0-9] turn into one `-`, trimmed, at most 80 characters. */
export const slugify = (id: string): string => {
  const slug = id.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80).replace(/-+$/, "")
  return slug.length > 0 ? slug : "stage"
}

/** `NN-SLUG` for stage NN (1-based). */
export const stageFileStem = (index: number, id: string): string =>
  `${String(index).padStart(2, "0")}-${slugify(id)}`

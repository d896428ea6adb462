import type { SystemErrorReason } from "@effect/platform/Error"
import { Data } from "effect"

// Each carries a one-line `message` that the CLI prints; the tag maps to an exit code (bad input: 2).

/** A task id, run id, flag or argument that is refused before anything is written. */
export class InvalidInputError extends Data.TaggedError("InvalidInputError")<{
  readonly message: string
}> {}

export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly file: string
  readonly message: string
}> {}

export class RunNotFoundError extends Data.TaggedError("RunNotFoundError")<{
  readonly runId: string
  readonly message: string
}> {}

/** Another live process owns the run directory (one writer per run, CONTRACT §4). */
export class RunBusyError extends Data.TaggedError("RunBusyError")<{
  readonly runId: string
  readonly holder: LockHolderInfo | null
  readonly message: string
}> {}

export class ResumeRefusedError extends Data.TaggedError("ResumeRefusedError")<{
  readonly runId: string
  readonly message: string
}> {}

/** Why a file operation failed: the platform's reason, or an argument it refused before trying. */
export type PersistenceReason = SystemErrorReason | "BadArgument"

export class PersistenceError extends Data.TaggedError("PersistenceError")<{
  readonly operation: string
  readonly path: string
  readonly reason: PersistenceReason
  readonly message: string
  readonly cause?: unknown
}> {}

/** A file on disk exists but does not decode; it is left where it is (or moved aside, never lost). */
export class CorruptFileError extends Data.TaggedError("CorruptFileError")<{
  readonly path: string
  readonly movedTo: string | null
  readonly message: string
}> {}

export interface LockHolderInfo {
  readonly pid?: number
  readonly host?: string
  readonly acquired_at?: string
  readonly unreadable?: boolean
}

export class TaskStateStoreLockError extends Data.TaggedError("TaskStateStoreLockError")<{
  readonly taskId: string
  readonly attempts: number
  readonly lockPath: string
  readonly holder: LockHolderInfo | null
  readonly message: string
}> {}

export class HistorySchemaError extends Data.TaggedError("HistorySchemaError")<{
  readonly message: string
}> {}

import { Effect } from "effect"
import type * as PgStore from "./PgStore.js"

/**
 * The database half of the program, loaded only when a history URL is set. The build makes it a file
 * of its own (dist/history.cjs) that borrows effect from the main bundle (scripts/build.mjs).
 */
export const loadPgStore: Effect.Effect<typeof PgStore> = Effect.promise(() => import("./PgStore.js"))

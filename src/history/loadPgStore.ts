import { Effect } from "effect"
import type * as PgStore from "./PgStore.js"

/**
 * pg asks whether it runs in a Cloudflare Worker when it is loaded: without a global `navigator` (Node
 * 20 has none) it builds a `Response`, which loads Node's whole fetch implementation (undici), about a
 * third of the load. A `navigator` that says Node.js answers it; it is there only while the chunk loads.
 */
const withNavigator = async <A>(load: () => Promise<A>): Promise<A> => {
  if ("navigator" in globalThis) return load()
  Object.defineProperty(globalThis, "navigator", { value: { userAgent: "Node.js" }, configurable: true, writable: true })
  try {
    return await load()
  } finally {
    Reflect.deleteProperty(globalThis, "navigator")
  }
}

/**
 * The database half of the program, loaded only when a history URL is set. The build makes it a file
 * of its own (dist/history.cjs) that borrows effect from the main bundle (scripts/build.mjs).
 */
export const loadPgStore: Effect.Effect<typeof PgStore> = Effect.promise(() => withNavigator(() => import("./PgStore.js")))

import { Effect } from "effect"
import type * as PgStore from "./PgStore.js"

// On load pg checks for a Cloudflare Worker: without a global `navigator` (Node 20 has none) it loads
// undici's whole fetch, about a third of the load. So a Node.js `navigator`, only while the chunk loads.
const withNavigator = async <A>(load: () => Promise<A>): Promise<A> => {
  if ("navigator" in globalThis) return load()
  Object.defineProperty(globalThis, "navigator", { value: { userAgent: "Node.js" }, configurable: true, writable: true })
  try {
    return await load()
  } finally {
    Reflect.deleteProperty(globalThis, "navigator")
  }
}

/** Built as dist/history.cjs, borrowing effect from the main bundle (scripts/build.mjs). */
export const loadPgStore: Effect.Effect<typeof PgStore> = Effect.promise(() => withNavigator(() => import("./PgStore.js")))

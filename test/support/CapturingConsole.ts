import { Console, Effect } from "effect"

export const text = (args: ReadonlyArray<unknown>) => args.map(String).join(" ")

/** A Console whose stdout lines land in `out` and everything else in `err`, as a user would see them. */
export const capturingConsole = (out: Array<string>, err: Array<string>): Console.Console => {
  const ignore = () => Effect.void
  const toErr = (...args: ReadonlyArray<unknown>) => Effect.sync(() => void err.push(text(args)))
  return {
    [Console.TypeId]: Console.TypeId,
    assert: ignore,
    clear: Effect.void,
    count: ignore,
    countReset: ignore,
    debug: toErr,
    dir: ignore,
    dirxml: ignore,
    error: toErr,
    group: ignore,
    groupEnd: Effect.void,
    info: toErr,
    log: (...args) => Effect.sync(() => void out.push(text(args))),
    table: ignore,
    time: ignore,
    timeEnd: ignore,
    timeLog: ignore,
    trace: ignore,
    warn: toErr,
    unsafe: globalThis.console
  }
}

import { Cause, Data, Duration, Effect, Exit, Ref, Schedule } from "effect"
import type { Scope } from "effect"
import type { ManifestStore } from "./ManifestStore.js"

/** A heartbeat tick whose writes did not finish in time; they are abandoned and tried again next tick. */
export class HeartbeatWriteTimeout extends Data.TaggedError("HeartbeatWriteTimeout")<{
  readonly seconds: number
  readonly message: string
}> {}

const DEFAULT_INTERVAL_SECONDS = 5
const MANIFEST_QUIET_SECONDS = 30
const WRITE_TIMEOUT_SECONDS = 10

const positiveOr = (value: number | undefined, fallback: number): number =>
  value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback

/** Never fails: a failed or slow tick is logged with the count of consecutive failures and retried next tick. */
export const start = (store: ManifestStore): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const manifest = yield* store.current
    const interval = Duration.seconds(positiveOr(manifest.heartbeat_interval_seconds, DEFAULT_INTERVAL_SECONDS))
    const quietMillis = MANIFEST_QUIET_SECONDS * 1000
    const timeoutSeconds = WRITE_TIMEOUT_SECONDS
    const consecutiveFailures = yield* Ref.make(0)

    const onFailure = (cause: Cause.Cause<unknown>) =>
      Ref.updateAndGet(consecutiveFailures, (n) => n + 1).pipe(
        Effect.flatMap((failures) =>
          Effect.logWarning(`Heartbeat write failed (${failures} in a row); retrying on the next tick`, cause).pipe(
            Effect.annotateLogs({ consecutive_failures: failures })
          )
        )
      )

    const onSuccess = Ref.getAndSet(consecutiveFailures, 0).pipe(
      Effect.flatMap((failures) =>
        failures > 0 ? Effect.logInfo(`Heartbeat writes recovered after ${failures} failed ticks`) : Effect.void
      )
    )

    const tick = store.beat({ quietMillis }).pipe(
      // disconnect: an abandoned write that ignores interruption must not hold the tick (or the run) up.
      Effect.disconnect,
      Effect.timeoutFail({
        duration: Duration.seconds(timeoutSeconds),
        onTimeout: () =>
          new HeartbeatWriteTimeout({
            seconds: timeoutSeconds,
            message: `heartbeat write took longer than ${timeoutSeconds} s and was abandoned`
          })
      }),
      Effect.exit,
      Effect.flatMap(Exit.match({ onFailure, onSuccess: () => onSuccess })),
      Effect.withSpan("Heartbeat.tick")
    )

    yield* tick.pipe(Effect.schedule(Schedule.fixed(interval)), Effect.forkScoped)
  })

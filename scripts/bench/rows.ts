/** Row names shared by scripts/bench/output.ts and the summary in scripts/bench.ts. */

/** The same stage run on the platform's CommandExecutor instead of NodeStageSpawner (docs/OUTPUT.md). */
export const PLATFORM_ROW = "256MiB, the same stage on the platform CommandExecutor"

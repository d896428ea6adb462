import { defineConfig } from "vitest/config"

/**
 * Two projects, both run by `npm test`: `unit` runs in memory and on TestClock (seconds in all);
 * `integration` starts real processes on the real disk (`npx vitest run --project unit` for the fast loop).
 */
const integration = ["test/integration/**/*.test.ts", "test/persistence/integration/**/*.test.ts", "test/cli/**/*.test.ts"]

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: [...integration.filter((glob) => !glob.startsWith("test/cli")), "test/cli/!(bad-input).test.ts"] }
      },
      {
        extends: true,
        // One PostgreSQL server for the run (scripts/postgres.sh), or CODEX_ORCHESTRATOR_TEST_PG_URL's.
        test: { name: "integration", include: integration, exclude: ["test/cli/bad-input.test.ts"], globalSetup: ["test/support/buildGlobalSetup.ts", "test/support/postgresGlobalSetup.ts"] }
      }
    ]
  }
})

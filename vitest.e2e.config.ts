import { defineConfig } from "vitest/config";

// End-to-end tests against real components (Apache Kafka from Maven Central, restate-server from
// npm). Slow to start on small machines: generous timeouts, one file at a time.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});

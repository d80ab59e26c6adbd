import { defineConfig } from "vitest/config";

// The dashboard in a real browser: Debian's chromium (/usr/bin/chromium, or env CHROMIUM) driven
// headless by playwright-core, against the local stack with a real Kafka broker.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 90_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});

// Tests of the artifacts `sam build` writes to .aws-sam/build (see infra/sam-check.sh).
// `npm run test:deploy` builds them first; the default `vitest run` does not include these.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/deploy/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Load the bundles with Node's own ES module loader, as the Lambda runtime does, instead of
    // transforming them like project sources.
    server: { deps: { external: [/\/\.aws-sam\//] } },
  },
});

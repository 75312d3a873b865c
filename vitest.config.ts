import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string): string => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests (and examples run in-process) may import the package by its name;
    // it resolves to the sources, as the `dmsg-mesh-source` export condition does for tsc and tsx.
    alias: [
      { find: /^dmsg-mesh$/, replacement: src('index.ts') },
      { find: /^dmsg-mesh\/internal$/, replacement: src('internal.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Builds the prebuilt `dmsg` CLI that tests start as a child process (test/helpers/cli-bundle.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
  },
});

import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import { ISOLATED_TEST_FILES } from './test/helpers/isolated-test-files.ts';

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
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Builds the prebuilt `dmsg` CLI that tests start as a child process (test/helpers/cli-bundle.ts).
    globalSetup: ['test/helpers/global-setup.ts'],
    // Most files share one worker that keeps modules loaded (isolate: false); the files listed in
    // test/helpers/isolated-test-files.ts (fake timers, spies, process hooks, real time, processes) run isolated.
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...ISOLATED_TEST_FILES], isolate: false } },
      { extends: true, test: { name: 'isolated', include: [...ISOLATED_TEST_FILES] } },
    ],
  },
});

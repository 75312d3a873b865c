import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = (p: string): string => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

/**
 * Test files that run in a fresh worker each (the "isolated" project): those
 * that fake timers, spy on prototypes or hook process-wide events, that
 * measure their own process or time real work, and those that drive real
 * processes, namespaces or a browser. Every other file runs in the "shared"
 * project with `isolate: false`: one worker runs them one after another and
 * keeps imported modules loaded between files (re-importing the sources,
 * rxjs and fast-check for each of ~180 files was about a fifth of the
 * suite's time). Test files themselves are still evaluated afresh per file,
 * and each file's hooks run as before; a file listed here only if it leaves
 * global state changed, or could disturb or be disturbed by its neighbours.
 */
const ISOLATED = [
  // Fake timers (vi.useFakeTimers) and prototype spies (vi.spyOn): global state if a test stops midway.
  'test/iocom/auth.test.ts',
  'test/iocom/close.test.ts',
  'test/iocom/transactions.test.ts',
  'test/transport/faulty-pair.test.ts',
  'test/span/router-drop.test.ts',
  // process.on('uncaughtException' | 'unhandledRejection') hooks.
  'test/cli/relay-budget.test.ts',
  'test/iocom/no-throw-escapes.test.ts',
  // Real clocks, relay processes, RSS and latency budgets, namespaces, npm/tsc, a browser.
  'test/util/clock.test.ts',
  'test/hostile/**/*.test.ts',
  'test/hosts/**/*.test.ts',
  'test/package/**/*.test.ts',
  'test/services/dlm/faults/processes.test.ts',
  'test/services/dlm/relay-processes.test.ts',
  'test/ops/status-page.browser.test.ts',
];

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
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...ISOLATED], isolate: false } },
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
    ],
  },
});

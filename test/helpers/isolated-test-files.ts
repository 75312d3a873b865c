/**
 * Which test files run in a fresh worker each (vitest.config.ts's
 * "isolated" project) instead of the "shared" one (`isolate: false`: one
 * worker runs the files one after another and keeps imported modules loaded
 * between them; re-importing the sources, rxjs and fast-check for each file
 * was about a fifth of the suite's time).
 *
 * A file belongs here if it leaves process-wide state changed when a test
 * stops midway (fake timers, spies, process event hooks), or if it could
 * disturb or be disturbed by its neighbours (real clocks, its own memory or
 * CPU measured, real processes, namespaces, npm/tsc, a browser).
 * test/isolation.test.ts fails if a file outside this list fakes timers,
 * spies or hooks process events.
 *
 * Entries are exact paths or `DIR/**\/*.test.ts` (every test file under DIR).
 */
export const ISOLATED_TEST_FILES: readonly string[] = [
  // Fake timers (vi.useFakeTimers) and prototype spies (vi.spyOn): global state if a test stops midway.
  'test/iocom/auth.test.ts',
  'test/iocom/close.test.ts',
  'test/iocom/transactions.test.ts',
  'test/transport/faulty-pair.test.ts',
  'test/span/router-drop.test.ts',
  'test/span/relay-pass-through.test.ts',
  'test/services/midcomms/auth.test.ts',
  'test/services/midcomms/deferred-ack.test.ts',
  'test/services/midcomms/unzeroed-slab.test.ts',
  // process.on('uncaughtException' | 'unhandledRejection') hooks.
  'test/cli/relay-budget.test.ts',
  'test/iocom/no-throw-escapes.test.ts',
  // Real clocks, relay processes, RSS and latency budgets, namespaces, npm/tsc, a browser.
  'test/util/clock.test.ts',
  // `dmsg bench --rate` in-process: its send count is bounded by the nominal run length, so a late timer in a busy worker shows.
  'test/cli/live-bench.test.ts',
  'test/hostile/**/*.test.ts',
  'test/hosts/**/*.test.ts',
  'test/package/**/*.test.ts',
  'test/services/dlm/faults/processes.test.ts',
  'test/services/dlm/relay-processes.test.ts',
  'test/ops/status-page.browser.test.ts',
];

/** True if `file` (a path relative to the repository root, with `/`) is matched by an ISOLATED_TEST_FILES entry. */
export function isIsolatedTestFile(file: string): boolean {
  return ISOLATED_TEST_FILES.some((e) => (e.endsWith('/**/*.test.ts') ? file.startsWith(e.slice(0, -'**/*.test.ts'.length)) && file.endsWith('.test.ts') : file === e));
}

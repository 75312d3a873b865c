/**
 * Guard of vitest.config.ts's split: a test file in the "shared" project
 * (isolate: false, modules kept loaded between files) must not change
 * process-wide state that would outlive it if a test stopped midway: fake
 * timers, spies and module mocks, process event hooks, the working
 * directory, or measure its own process's memory. Such a file belongs in
 * test/helpers/isolated-test-files.ts. Comments are not scanned.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ISOLATED_TEST_FILES, isIsolatedTestFile } from './helpers/isolated-test-files.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** What a shared-project file may not do, each with why. */
const FORBIDDEN: ReadonlyArray<[RegExp, string]> = [
  [/\bvi\s*\.\s*(useFakeTimers|setSystemTime|spyOn|mock|doMock|stubGlobal|stubEnv|resetModules)\s*\(/, 'fakes timers, spies or mocks (global state if a test stops midway)'],
  [/\bprocess\s*\.\s*(on|once|addListener|prependListener|prependOnceListener|removeAllListeners|chdir|memoryUsage)\s*\(/, 'hooks process events, changes the working directory or measures its own process'],
];

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...testFiles(p));
    else if (e.name.endsWith('.test.ts')) out.push(relative(ROOT, p).split(sep).join('/'));
  }
  return out.sort();
}

/** The source without comments (line and block; good enough for test files, which keep `//` out of strings they scan). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

function violations(file: string): string[] {
  const text = code(readFileSync(join(ROOT, file), 'utf8'));
  return FORBIDDEN.filter(([re]) => re.test(text)).map(([re, why]) => `${file}: ${why} (${re.exec(text)![0]})`);
}

describe('shared-project test files keep process-wide state alone', () => {
  const all = testFiles(join(ROOT, 'test'));

  it('no file outside test/helpers/isolated-test-files.ts fakes timers, spies, mocks or hooks process events', () => {
    const shared = all.filter((f) => !isIsolatedTestFile(f));
    expect(shared.length).toBeGreaterThan(100);
    expect(shared.flatMap(violations)).toEqual([]);
  });

  it('the scan finds what it looks for: isolated files that fake timers, spy and hook process events are flagged', () => {
    for (const f of ['test/iocom/auth.test.ts', 'test/span/router-drop.test.ts', 'test/iocom/no-throw-escapes.test.ts']) {
      expect(isIsolatedTestFile(f), f).toBe(true);
      expect(violations(f), f).not.toEqual([]);
    }
  });

  it('every entry of the isolated list names a test file or directory that exists', () => {
    for (const e of ISOLATED_TEST_FILES) {
      const path = e.endsWith('/**/*.test.ts') ? e.slice(0, -'/**/*.test.ts'.length) : e;
      expect(existsSync(join(ROOT, path)), e).toBe(true);
      expect(all.some((f) => isIsolatedTestFile(f) && (f === e || f.startsWith(`${path}/`))), e).toBe(true);
    }
  });
});

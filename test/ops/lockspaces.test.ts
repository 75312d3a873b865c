/**
 * A relay that runs the DLM (`lockspaces`) shows its lockspaces in
 * /stats.json and on the status page (headless Chromium where installed).
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LockspaceStats } from '../../src/cli/ops/relay-observer.ts';
import { Relays, get, waitFor } from './helpers.ts';

type InPage = { document: { querySelector(selector: string): { hidden?: boolean } | null; querySelectorAll(selector: string): { length: number } } };
const CANDIDATES = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
const chromiumPath = CANDIDATES.find((p) => existsSync(p));
if (!chromiumPath) console.warn(`Chromium not found (looked at ${CANDIDATES.join(', ')}): the lockspaces panel is checked in /stats.json only`);

const relays = new Relays();
afterEach(() => relays.stopAll());
let closeBrowser: (() => Promise<void>) | undefined;
afterAll(async () => {
  await closeBrowser?.();
});

async function lockspacesOf(address: string): Promise<LockspaceStats[] | undefined> {
  const r = await get(address, '/stats.json');
  return (JSON.parse(r.body) as { lockspaces?: LockspaceStats[] }).lockspaces;
}

describe('lockspaces on the ops port', () => {
  it('a relay without a DLM has no lockspaces entry; one with lockspaces lists them with their locks', async () => {
    const plain = await relays.start({ name: 'P', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    expect(await lockspacesOf(plain.ops.metricsAddress!)).toBeUndefined();

    const relay = await relays.start({ name: 'D', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0', metricsEventIntervalMs: 100, lockspaces: ['app', 'logs'] });
    const address = relay.ops.metricsAddress!;
    const before = await lockspacesOf(address);
    expect(before?.map((l) => l.name).sort()).toEqual(['app', 'logs']);
    expect(before?.every((l) => l.locks === 0 && l.members >= 1)).toBe(true);

    const ls = relay.dlm!.lockspace('app')!;
    const a = await ls.lock('r1', 'EX');
    const b = await ls.lock('r2', 'PR');
    const after = await waitFor(async () => {
      const rows = await lockspacesOf(address);
      const app = rows?.find((l) => l.name === 'app');
      return app && app.locks === 2 ? app : undefined;
    }, 'two locks in app');
    expect(after.resources).toBeGreaterThanOrEqual(2);
    expect(after.grants).toBeGreaterThanOrEqual(2);
    expect(after.waiting).toBe(0);
    // The DLM's and its midcomms' figures are on /metrics too.
    const metrics = (await get(address, '/metrics')).body;
    expect(metrics).toMatch(/^dmsg_dlm_grants_total\{lockspace="app"\} [1-9]/m);
    expect(metrics).toMatch(/^dmsg_midcomms_sessions \d+$/m);

    if (chromiumPath) {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
      closeBrowser = () => browser.close();
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`http://${address}/`);
      await page.waitForFunction(() => (globalThis as unknown as InPage).document.querySelectorAll('#lockspaces tbody tr').length === 2, undefined, { timeout: 10_000 });
      expect(await page.locator('#dlm').isVisible()).toBe(true);
      const appRow = page.locator('#lockspaces tbody tr', { hasText: 'app' });
      expect(await appRow.locator('td').nth(3).textContent()).toBe('2');
      expect(errors).toEqual([]);
    }
    await a.unlock();
    await b.unlock();
  }, 60_000);
});

/**
 * The status page in a real browser: headless Chromium (Debian's package,
 * driven by playwright-core through executablePath) loads the page of a
 * 5-relay ring, finds every router in the graph, and sees a cut link's edge
 * disappear within a few seconds (the DOM polled with a bounded wait).
 * Skipped, with a message, where Chromium is not installed.
 *
 * DMSG_STATUS_SCREENSHOT=docs/status-page.png writes the screenshot the README shows.
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RelayHandle } from '../../src/cli/relay-daemon.ts';
import { Relays, waitFor } from './helpers.ts';

/** The page's document, typed for the functions run in the browser (this project compiles without the DOM lib). */
type InPage = { document: { querySelector(selector: string): unknown } };

const CANDIDATES = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
const chromiumPath = CANDIDATES.find((p) => existsSync(p));
if (!chromiumPath) console.warn(`Chromium not found (looked at ${CANDIDATES.join(', ')}): the status-page browser test is skipped (apt-get install -y chromium)`);

const relays = new Relays();
afterEach(() => relays.stopAll());

describe.skipIf(!chromiumPath)('status page in headless Chromium', () => {
  let close: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await close?.();
  });

  it('draws every router of a 5-relay ring and drops a cut link within seconds', async () => {
    const { chromium } = await import('playwright-core');
    // R0 - R1 - R2 - R3 - R4 - R0; R0 serves the page and its 100 ms event interval.
    const r: RelayHandle[] = [];
    r.push(await relays.start({ name: 'R0', listen: ['127.0.0.1:0'], advertise: ['svc/r0'], metrics: '127.0.0.1:0', metricsEventIntervalMs: 100 }));
    for (let i = 1; i < 5; i++) {
      const connect = [r[i - 1]!.addresses[0]!];
      if (i === 4) connect.push(r[0]!.addresses[0]!);
      r.push(await relays.start({ name: `R${i}`, listen: ['127.0.0.1:0'], connect, advertise: [`svc/r${i}`] }));
    }
    await waitFor(() => r[0]!.router.spans('svc').filter((s) => s.via !== null).length === 4 && r[0]!.router.spans('svc').find((s) => s.instance === 'r2')?.dist === 1, 'R0 to see the four others (r2 via R1)', 20_000);

    const browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    close = () => browser.close();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://${r[0]!.ops.metricsAddress}/`);

    const ids = r.map((x) => x.router.nodeId);
    await page.waitForFunction((want: string[]) => want.every((id) => (globalThis as unknown as InPage).document.querySelector(`g.router[data-node-id="${id}"]`)), ids, { timeout: 15_000 });
    expect(await page.locator('g.router').count()).toBe(5);
    const edge = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
    const cut = edge(ids[1]!, ids[2]!);
    expect(await page.locator(`line.edge[data-edge="${cut}"]`).count()).toBe(1);
    expect(await page.locator('#spans tbody tr').count()).toBe(5);
    expect(await page.locator('#links tbody tr').count()).toBe(2);
    expect(await page.locator('g.router.self text').first().textContent()).toBe('R0');
    expect(await page.locator('#ready').textContent()).toBe('ready');

    // Cut R1-R2: the edge goes; R2 is now reached round the other side (R3-R2 appears).
    r[2]!.disconnect(r[2]!.peers[0]!.target);
    await page.waitForFunction((e: string) => !(globalThis as unknown as InPage).document.querySelector(`line.edge[data-edge="${e}"]`), cut, { timeout: 10_000 });
    await page.waitForFunction((e: string) => !!(globalThis as unknown as InPage).document.querySelector(`line.edge[data-edge="${e}"]`), edge(ids[2]!, ids[3]!), { timeout: 10_000 });
    expect(await page.locator('g.router').count()).toBe(5);
    const shot = process.env['DMSG_STATUS_SCREENSHOT'];
    if (shot) await page.screenshot({ path: shot, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);
});

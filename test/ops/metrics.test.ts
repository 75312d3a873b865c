/**
 * `--metrics`: in-process relays on loopback serve Prometheus text and
 * /stats.json whose figures follow real traffic: links up and down, spans by
 * service and distance, relayed transactions open, messages and bytes,
 * protocol (CRC) errors by code; /healthz and /readyz.
 */
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DMSG } from '../../src/wire/constants.ts';
import { encodeMessage, concatBytes } from '../../src/wire/frame-encoder.ts';
import type { RelayHandle } from '../../src/cli/relay-daemon.ts';
import { get, parseExposition, Relays, scrape, sum, waitFor } from './helpers.ts';

const relays = new Relays();
afterEach(() => relays.stopAll());

function metricsOf(r: RelayHandle): string {
  const a = r.ops.metricsAddress;
  if (!a) throw new Error('relay serves no metrics');
  return a;
}

/** a in the middle; b (advertises echo/b1) and c dial it. */
async function threeRelays(): Promise<{ a: RelayHandle; b: RelayHandle; c: RelayHandle }> {
  const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
  const b = await relays.start({ name: 'B', listen: ['127.0.0.1:0'], connect: [a.addresses[0]!], advertise: ['echo/b1'], metrics: '127.0.0.1:0' });
  // A short down grace on C (default 4 s): after B's link is cut, C counts the span's down 50 ms later.
  const c = await relays.start({ name: 'C', listen: ['127.0.0.1:0'], connect: [a.addresses[0]!], metrics: '127.0.0.1:0', router: { downGraceMs: 50 } });
  await waitFor(() => c.router.spans('echo').some((s) => s.via !== null), 'C to see echo');
  return { a, b, c };
}

describe('metrics endpoint', () => {
  it('serves valid Prometheus text whose link, span and traffic figures follow the mesh', async () => {
    const { a, b, c } = await threeRelays();
    const m = await scrape(metricsOf(a));
    expect(m.types.get('dmsg_links_up')).toBe('gauge');
    expect(m.types.get('dmsg_messages_received_total')).toBe('counter');
    expect(sum(m, 'dmsg_up')).toBe(1);
    expect(sum(m, 'dmsg_links_up')).toBe(2);
    expect(sum(m, 'dmsg_links_up', { transport: 'tcp', direction: 'in', auth: 'none' })).toBe(2);
    expect(sum(m, 'dmsg_spans', { service: 'echo', dist: '0' })).toBe(1);
    const mc = await scrape(metricsOf(c));
    expect(sum(mc, 'dmsg_spans', { service: 'echo', dist: '1' })).toBe(1);
    expect(sum(mc, 'dmsg_links_up', { direction: 'out' })).toBe(1);
    expect(sum(mc, 'dmsg_span_events_total', { type: 'up' })).toBeGreaterThanOrEqual(1);
    expect(sum(m, 'dmsg_span_messages_sent_total')).toBeGreaterThanOrEqual(1);
    // Per-link figures carry the peer's name.
    const peers = m.samples.filter((s) => s.name === 'dmsg_link_messages_received_total').map((s) => s.labels['peer']).sort();
    expect(peers).toEqual(['B', 'C']);

    // A transaction from C to echo/b1 is relayed by A: open while it lasts, and traffic counts rise.
    const before = await scrape(metricsOf(a));
    const tx = c.router.open('echo', DMSG.DBG_SHELL, { aux: new TextEncoder().encode('x'.repeat(1000)) });
    const replies: Uint8Array[] = [];
    tx.rx$.subscribe({ next: (msg) => { if (msg.aux.length > 0) replies.push(msg.aux); }, error: () => {} });
    await waitFor(() => replies.length > 0, 'the echo');
    const during = await scrape(metricsOf(a));
    expect(sum(during, 'dmsg_relayed_transactions_open')).toBe(1);
    expect(sum(during, 'dmsg_messages_received_total')).toBeGreaterThanOrEqual(sum(before, 'dmsg_messages_received_total') + 2);
    expect(sum(during, 'dmsg_bytes_received_total')).toBeGreaterThanOrEqual(sum(before, 'dmsg_bytes_received_total') + 2000);
    expect(sum(during, 'dmsg_bytes_sent_total')).toBeGreaterThanOrEqual(sum(before, 'dmsg_bytes_sent_total') + 2000);
    const done = firstValueFrom(tx.rx$, { defaultValue: null }).catch(() => null);
    tx.close();
    await done;
    await waitFor(async () => sum(await scrape(metricsOf(a)), 'dmsg_relayed_transactions_open') === 0, 'the relayed transaction to end');

    // Cut B's link: A's links up drop to 1, the span goes, a close is counted.
    b.disconnect(b.peers[0]!.target);
    const after = await waitFor(async () => {
      const s = await scrape(metricsOf(a));
      return sum(s, 'dmsg_links_up') === 1 && sum(s, 'dmsg_spans', { service: 'echo' }) === 0 ? s : undefined;
    }, 'A to lose B');
    expect(sum(after, 'dmsg_links_closed_total')).toBe(1);
    expect(sum(after, 'dmsg_links_opened_total')).toBe(2);
    // Totals keep the closed link's traffic: still at least what was counted during the call.
    expect(sum(after, 'dmsg_messages_received_total')).toBeGreaterThanOrEqual(sum(during, 'dmsg_messages_received_total'));
    const mcAfter = await waitFor(async () => {
      const s = await scrape(metricsOf(c));
      return sum(s, 'dmsg_span_events_total', { type: 'down' }) >= 1 ? s : undefined;
    }, 'C to count the span down (after its down grace)');
    expect(sum(mcAfter, 'dmsg_spans', { service: 'echo' })).toBe(0);
  });

  it('counts protocol errors by code: a peer sending a bad header CRC, another bad magic', async () => {
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    const [host, port] = [a.addresses[0]!.split(':')[0]!, Number(a.addresses[0]!.split(':')[1])];
    const send = async (bytes: Uint8Array): Promise<void> => {
      const s = net.connect({ host, port });
      s.resume(); // read (and drop) what the relay sends, so its end arrives
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(bytes);
      await new Promise<void>((r) => s.once('close', () => r()));
    };
    const good = concatBytes(encodeMessage({ header: { cmd: DMSG.LNK_PAD, msgid: 0n } }));
    const badCrc = good.slice();
    badCrc[20] ^= 0xff; // inside the header, covered by hdr_crc
    await send(badCrc);
    await send(new Uint8Array(64).fill(0x41));
    const m = await waitFor(async () => {
      const s = await scrape(metricsOf(a));
      return sum(s, 'dmsg_protocol_errors_total') === 2 ? s : undefined;
    }, 'two protocol errors');
    expect(sum(m, 'dmsg_protocol_errors_total', { code: 'BAD_HDR_CRC' })).toBe(1);
    expect(sum(m, 'dmsg_protocol_errors_total', { code: 'BAD_MAGIC' })).toBe(1);
    expect(sum(m, 'dmsg_crc_errors_total')).toBe(1);
    expect(sum(m, 'dmsg_links_closed_total', { reason: 'BAD_HDR_CRC' })).toBe(1);
    expect(sum(m, 'dmsg_links_up')).toBe(0);
  });

  it('counts a keepalive loss: a peer that connects and never sends', async () => {
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0', iocom: { pingIntervalMs: 20, linkTimeoutMs: 100 } });
    const [host, port] = a.addresses[0]!.split(':');
    const s = net.connect({ host: host!, port: Number(port) });
    s.resume();
    const m = await waitFor(async () => {
      const x = await scrape(metricsOf(a));
      return sum(x, 'dmsg_keepalive_losses_total') === 1 ? x : undefined;
    }, 'the keepalive loss');
    expect(sum(m, 'dmsg_links_closed_total', { reason: 'KEEPALIVE_TIMEOUT' })).toBe(1);
    expect(sum(m, 'dmsg_protocol_errors_total')).toBe(0);
    s.destroy();
  });

  it('labels links by authentication state and by transport (unix)', async () => {
    const ka = generateKeyPairSync('ed25519');
    const kb = generateKeyPairSync('ed25519');
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], keyPair: ka, allowedPeerKeys: [kb.publicKey], metrics: '127.0.0.1:0' });
    await relays.start({ name: 'B', connect: [a.addresses[0]!], keyPair: kb, allowedPeerKeys: [ka.publicKey] });
    const m = await waitFor(async () => {
      const s = await scrape(metricsOf(a));
      return sum(s, 'dmsg_links_up', { auth: 'verified' }) === 1 ? s : undefined;
    }, 'the link to be verified');
    expect(sum(m, 'dmsg_links_up')).toBe(1);

    const path = `/tmp/dmsg-ops-${process.pid}.sock`;
    const u = await relays.start({ name: 'U', listen: [`unix:${path}`], metrics: '127.0.0.1:0' });
    await relays.start({ name: 'V', connect: [`unix:${path}`] });
    await waitFor(async () => sum(await scrape(metricsOf(u)), 'dmsg_links_up', { transport: 'unix', direction: 'in' }) === 1, 'a unix link');
  });

  it('/stats.json has the same figures, /healthz answers, /readyz waits for a peer when one is configured', async () => {
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    expect((await get(metricsOf(a), '/healthz')).status).toBe(200);
    expect((await get(metricsOf(a), '/readyz')).status).toBe(200);
    // A free port nobody listens on: the dialer keeps failing, so D is not ready.
    const free = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const d = await relays.start({ name: 'D', listen: ['127.0.0.1:0'], connect: [`127.0.0.1:${free}`], metrics: '127.0.0.1:0' });
    const notReady = await get(metricsOf(d), '/readyz');
    expect(notReady.status).toBe(503);
    expect((await get(metricsOf(d), '/healthz')).status).toBe(200);
    const e = await relays.start({ name: 'E', listen: ['127.0.0.1:0'], connect: [a.addresses[0]!], metrics: '127.0.0.1:0' });
    await waitFor(async () => (await get(metricsOf(e), '/readyz')).status === 200, 'E to be ready');

    const doc = JSON.parse((await get(metricsOf(a), '/stats.json')).body);
    expect(doc.node.name).toBe('A');
    expect(doc.node.ready).toBe(true);
    expect(doc.links).toHaveLength(1);
    expect(doc.links[0]).toMatchObject({ peerName: 'E', transport: 'tcp', direction: 'in', auth: 'none' });
    expect(doc.totals.linksUp).toBe(1);
    const fam = doc.metrics.find((f: { name: string }) => f.name === 'dmsg_links_up');
    expect(fam.samples.reduce((s: number, x: { value: number }) => s + x.value, 0)).toBe(1);
    expect((await get(metricsOf(a), '/nope')).status).toBe(404);
    expect((await get(metricsOf(a), '/metrics')).type).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('a service adds its own collector; one that throws is skipped and counted', async () => {
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    let grants = 0;
    a.ops.registry.register('dlm', () => [{ name: 'dmsg_dlm_grants_total', help: 'Locks granted.', type: 'counter', samples: [{ labels: { lockspace: 'ls"1' }, value: grants }] }]);
    a.ops.registry.register('broken', () => { throw new Error('boom'); });
    grants = 7;
    const m = await scrape(metricsOf(a));
    expect(sum(m, 'dmsg_dlm_grants_total', { lockspace: 'ls"1' })).toBe(7);
    expect(sum(m, 'dmsg_metrics_collector_errors_total')).toBe(1);
    expect(() => a.ops.registry.register('dlm', () => [])).toThrow(/already registered/);
  });
});

describe('RelayObserver on an embedder\'s own routers', () => {
  it('sees links it is told about (memory transport), their traffic, and the spans', async () => {
    const { Router } = await import('../../src/span/router.ts');
    const { memoryPair } = await import('../../src/transport/memory.ts');
    const { RelayObserver } = await import('../../src/cli/ops/relay-observer.ts');
    const x = new Router({ name: 'X' });
    const y = new Router({ name: 'Y' });
    const observer = new RelayObserver(x, { expectPeers: true });
    try {
      const [s1, s2] = memoryPair();
      observer.attached(x.attach(s1), s1, 'out');
      y.attach(s2);
      y.advertise({ service: 'svc' });
      await waitFor(() => x.spans('svc').length === 1, 'X to see svc');
      expect(observer.ready).toBe(false); // not listening yet
      observer.setListening([]);
      expect(observer.ready).toBe(true);
      const st = observer.stats();
      expect(st.links).toHaveLength(1);
      expect(st.links[0]).toMatchObject({ peerName: 'Y', transport: 'memory', direction: 'out', auth: 'none' });
      expect(st.links[0]!.messagesIn).toBeGreaterThan(0);
      expect(st.spans).toEqual([expect.objectContaining({ service: 'svc', instance: 'Y', dist: 0, viaName: 'Y', path: [y.nodeId] })]);
    } finally {
      observer.dispose();
      await Promise.all([x.close(), y.close()]);
    }
  });
});

describe('ops server', () => {
  it('serves the status page at / with no external resources', async () => {
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    const page = await get(metricsOf(a), '/');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain("new EventSource('events')");
    expect(page.body).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
    expect(page.body).not.toMatch(/innerHTML/);
  });

  it('a taken metrics port fails the start and leaves nothing listening', async () => {
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'], metrics: '127.0.0.1:0' });
    await expect(relays.start({ name: 'B', listen: ['127.0.0.1:0'], metrics: metricsOf(a) })).rejects.toThrow(/EADDRINUSE/);
    await expect(relays.start({ name: 'B', listen: ['127.0.0.1:0'], metrics: 'unix:/tmp/x' })).rejects.toThrow(/HOST:PORT/);
  });

  it('/events streams snapshots as Server-Sent Events; clients past the limit get 503', async () => {
    const { startOpsServer } = await import('../../src/cli/ops/ops-server.ts');
    const a = await relays.start({ name: 'A', listen: ['127.0.0.1:0'] });
    const server = await startOpsServer({ host: '127.0.0.1', port: 0, registry: a.ops.registry, stats: () => a.ops.observer.stats(), ready: () => true, eventIntervalMs: 20, maxEventClients: 1 });
    try {
      const ac = new AbortController();
      const res = await fetch(`http://${server.address}/events`, { signal: ac.signal });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      while ((text.match(/^event: stats$/gm) ?? []).length < 2) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`the event stream ended after ${JSON.stringify(text)}`);
        text += new TextDecoder().decode(chunk.value);
      }
      const data = /^data: (.*)$/m.exec(text)![1]!;
      expect(JSON.parse(data).node.name).toBe('A');
      expect((await get(server.address, '/events')).status).toBe(503);
      ac.abort();
      await reader.cancel().catch(() => {});
    } finally {
      await server.close();
    }
  });
});

describe('parseExposition (the test parser) rejects what the format does not allow', () => {
  it.each([
    ['no newline', '# TYPE a gauge\na 1'],
    ['undeclared family', 'a 1\n'],
    ['bad labels', '# TYPE a gauge\na{x=1} 1\n'],
    ['bad value', '# TYPE a gauge\na one\n'],
  ])('%s', (_what, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});


/**
 * Span drop benchmark (bench name `span-drop`, issue 7 item 3): a relay
 * (an in-process Router on 127.0.0.1) holds LINKS links that each advertised
 * SPANS spans (defaults 16 × 4096 = 65,536, the default maxSpansTotal) and
 * relays them all to a bystander; then every one of those links is cut at
 * once, and a pinger (another link, which wants no spans) sends a LNK_PING.
 *
 * - `ping_ms`: the pinger's round trip before the drop (baseline, median of 5);
 * - `ping_after_drop_ms`: from the cut to the pinger's PING answered (the
 *   relay must not block its event loop while it removes the spans; target
 *   < 1 s), with its ratio to `ping_ms`;
 * - `bystander_ping_after_drop_ms`: the same on the bystander's link, where
 *   the PING's answer queues behind the span DELETEs (one link is FIFO);
 * - `drop_done_ms`: from the cut until the relay's table is empty;
 * - `bystander_deletes`: span DELETEs the bystander received for them.
 * Wall clock (the relay, the droppers and the bystander share this process).
 * A case that does not finish within SPAN_DROP_LIMIT_S (default 120) is
 * reported as a row `failed` = 1 with a note, never a stack trace.
 *
 * Environment: SPAN_DROP_LINKS (16), SPAN_DROP_SPANS (4096), SPAN_DROP_LIMIT_S.
 */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { Router } from '../src/span/router.ts';
import { Iocom } from '../src/iocom/iocom.ts';
import { DMSG, DMSGF, DMSG_PEER } from '../src/wire/constants.ts';
import { encodeLnkConn } from '../src/wire/ext/lnk-conn.ts';
import { encodeLnkSpan } from '../src/wire/ext/lnk-span.ts';
import { concatBytes, encodeMessage } from '../src/wire/frame-encoder.ts';
import { median, type BenchContext } from './harness.ts';

export const BENCH = 'span-drop';

function envInt(name: string, def: number): number {
  const v = process.env[name];
  const n = v === undefined ? def : Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return n;
}

const IOCOM = { pingIntervalMs: 0, linkTimeoutMs: 0 } as const;

function nodeId(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

/** The bystander: a plain Iocom that sends LNK_CONN and acks every span it is sent. */
function peer(sock: Socket, id: number, wantSpans: boolean, onSpanDelete?: () => void): Iocom {
  const io = new Iocom(sock, { name: `peer${id}`, ...IOCOM, maxTransactions: 1 << 20 });
  io.transactions$.subscribe((tx) => {
    tx.rx$.subscribe({
      next: (m) => {
        if (m.header.cmd & DMSGF.DELETE) {
          if (tx.icmd === DMSG.LNK_SPAN) onSpanDelete?.();
          if (tx.canSend) tx.close();
        } else if (m.header.cmd & DMSGF.CREATE && tx.canSend) tx.result(0);
      },
      error: () => {},
    });
  });
  io.open(DMSG.LNK_CONN, { ext: encodeLnkConn({ mediaId: nodeId(id), peerMask: wantSpans ? 0xffffffffffffffffn : 0n, peerType: DMSG_PEER.ROUTER, protoVersion: 1, pfsMask: 0xffffffffffffffffn, pfsLabel: `peer${id}` }) });
  return io;
}

/**
 * A dropper: a raw socket that sends LNK_CONN (wanting no spans) and `spans`
 * LNK_SPANs as pre-encoded bytes and discards what it reads, so cutting it
 * costs this process nothing (only the relay's work is measured).
 */
function rawDropper(sock: Socket, id: number, link: number, spans: number): void {
  sock.resume();
  let seq = 0;
  const frames: Uint8Array[] = [];
  const add = (cmd: number, msgid: bigint, ext: Uint8Array): void => {
    frames.push(concatBytes(encodeMessage({ header: { cmd: cmd >>> 0, msgid, salt: seq++ & 0xff }, ext })));
  };
  add(DMSG.LNK_CONN | DMSGF.CREATE, 1n, encodeLnkConn({ mediaId: nodeId(id), peerMask: 0n, peerType: DMSG_PEER.ROUTER, protoVersion: 1, pfsMask: 0xffffffffffffffffn, pfsLabel: `peer${id}` }));
  for (let i = 0; i < spans; i++) {
    const ext = encodeLnkSpan({ peerId: nodeId(0xa0000 + link), pfsId: nodeId(0x1000000 + link * spans + i), peerType: 4, protoVersion: 1, peerLabel: `svc-${link}`, pfsLabel: `inst-${i}` });
    add(DMSG.LNK_SPAN | DMSGF.CREATE, BigInt(2 + i), ext);
  }
  sock.write(concatBytes(frames));
}

async function until(check: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise<void>((r) => setImmediate(r));
  }
  return true;
}

export async function run(ctx: BenchContext): Promise<void> {
  const { reporter } = ctx;
  const LINKS = envInt('SPAN_DROP_LINKS', 16);
  const SPANS = envInt('SPAN_DROP_SPANS', 4096);
  const limitMs = envInt('SPAN_DROP_LIMIT_S', 120) * 1000;
  const label = `${LINKS}x${SPANS}`;
  reporter.note(`span-drop: a relay holds ${LINKS} links × ${SPANS} spans relayed to a bystander; all ${LINKS} links cut at once; wall clock, everything in this process`);
  const hub = new Router({ name: 'hub', nodeId: nodeId(1), iocom: { ...IOCOM, maxTransactions: 1 << 17 }, maxSpansPerLink: SPANS, maxSpansTotal: Math.max(LINKS * SPANS, SPANS) });
  const server = createServer((s) => hub.attach(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const dial = async (): Promise<Socket> => {
    const s = connect(port, '127.0.0.1');
    await once(s, 'connect');
    return s;
  };
  const fail = (why: string): void => {
    reporter.note(`span-drop ${label}: FAILED: ${why}`);
    reporter.result({ bench: BENCH, metric: `failed_${label}`, value: 1, unit: 'case' });
  };
  let deletes = 0;
  const droppers: Socket[] = [];
  try {
    const bystander = peer(await dial(), 2, true, () => deletes++);
    const pinger = peer(await dial(), 3, false);
    for (let l = 0; l < LINKS; l++) {
      const sock = await dial();
      droppers.push(sock);
      rawDropper(sock, 100 + l, l, SPANS);
    }
    const total = LINKS * SPANS;
    if (!(await until(() => hub.stats().received === total && hub.stats().relays === total, limitMs))) return fail(`the relay took in ${hub.stats().received} of ${total} spans (${hub.stats().relays} relayed) within the limit`);
    const pings: number[] = [];
    for (let i = 0; i < 5; i++) pings.push(await pinger.ping());
    const base = median(pings);
    reporter.result({ bench: BENCH, metric: `ping_ms_${label}`, value: base, unit: 'ms' });
    const t0 = performance.now();
    for (const sock of droppers) sock.destroy();
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), limitMs).unref());
    const viaBystander = bystander.ping().then(() => performance.now() - t0);
    const answered = await Promise.race([pinger.ping().then(() => performance.now() - t0), timeout]);
    if (answered === null) return fail(`no PING answer within ${limitMs} ms of the cut`);
    reporter.result({ bench: BENCH, metric: `ping_after_drop_ms_${label}`, value: answered, unit: 'ms', baseline: `ping_ms_${label}` });
    const byst = await Promise.race([viaBystander, timeout]);
    if (byst === null) return fail(`no PING answer on the bystander's link within ${limitMs} ms of the cut`);
    reporter.result({ bench: BENCH, metric: `bystander_ping_after_drop_ms_${label}`, value: byst, unit: 'ms' });
    if (!(await until(() => hub.stats().received === 0 && hub.stats().spans === 0, limitMs))) return fail(`the relay still holds ${hub.stats().received} spans after the limit`);
    reporter.result({ bench: BENCH, metric: `drop_done_ms_${label}`, value: performance.now() - t0, unit: 'ms' });
    await until(() => deletes === total, 10_000);
    reporter.result({ bench: BENCH, metric: `bystander_deletes_${label}`, value: deletes, unit: 'msgs' });
    bystander.destroy();
    pinger.destroy();
  } catch (err) {
    fail((err as Error).message);
  } finally {
    for (const sock of droppers) sock.destroy();
    await hub.close().catch(() => {});
    server.close();
  }
}

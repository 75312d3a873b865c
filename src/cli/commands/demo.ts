/**
 * `dmsg demo` (what `npm start` runs): a short codec round trip, then a
 * mesh on loopback TCP: relays in a ring, two services on two nodes, a
 * client that discovers them and talks to them through relays, a link cut
 * on the client's path, and the traffic moving to the other way round the
 * ring. Narrated step by step; exits by itself.
 */
import { filter, lastValueFrom, toArray, type Observable } from 'rxjs';
import { measureHeaders } from '../wire-bench.ts';
import { formatNumber } from '../bench-harness.ts';
import { Router, type SpanEvent, type SpanInfo } from '../../span/router.ts';
import { connectTcp } from '../../transport/index.ts';
import { cmdName } from '../../wire/cmd.ts';
import { DMSG, DMSGF, DMSG_PEER } from '../../wire/constants.ts';
import { decodeLnkSpan, encodeLnkSpan } from '../../wire/ext/index.ts';
import { FrameDecoder } from '../../wire/frame-decoder.ts';
import { byteLength, concatBytes, encodeMessage } from '../../wire/frame-encoder.ts';
import type { Message } from '../../wire/message.ts';
import { CommandError, intOption, numberOption, type Command, type CommandContext, type TextSink } from '../command.ts';
import { serveEcho } from '../echo-service.ts';
import { startRelay, type RelayHandle } from '../relay-daemon.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encode one LNK_SPAN and decode it back from 100-byte reads. */
function codecSection(out: TextSink): void {
  out.write('1. The wire format\n');
  const ext = encodeLnkSpan({ peerId: '5b1c7a2e-3f4d-4e8a-9c6b-0d2e4f6a8b1c', pfsId: 'c0ffee00-1234-4abc-8def-0123456789ab', peerType: 4, pfsType: 0, dist: 0, peerLabel: 'echo', pfsLabel: 'n2' });
  const chunks = encodeMessage({ header: { cmd: (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0, msgid: 1n }, ext });
  const bytes = concatBytes(chunks);
  const decoder = new FrameDecoder();
  const got: Message[] = [];
  for (let o = 0; o < bytes.length; o += 100) decoder.pushInto(bytes.subarray(o, o + 100), got);
  decoder.end();
  const span = decodeLnkSpan(got[0]!.ext);
  out.write(`   A span advertisement (${cmdName(got[0]!.header.cmd)}) is ${byteLength(chunks)} bytes: a 64-byte header with a CRC32C, plus its extended header.\n`);
  out.write(`   Fed to the decoder in 100-byte reads it comes back whole: service '${span.peerLabel}', instance '${span.pfsLabel}', dist ${span.dist}.\n\n`);
}

function waitFor<T>(source: Observable<T>, pred: (v: T) => boolean, signal: AbortSignal, what: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { sub.unsubscribe(); reject(new CommandError('DEMO_TIMEOUT', `demo timed out waiting for ${what()}`)); };
    const sub = source.pipe(filter(pred)).subscribe({ next: (v) => { signal.removeEventListener('abort', onAbort); sub.unsubscribe(); resolve(v); } });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One request/response: open a transaction with `text`, collect the replies until the service's DELETE. */
async function ask(client: Router, span: SpanInfo, text: string): Promise<{ reply: string; ms: number }> {
  const t0 = performance.now();
  const tx = client.open(span, DMSG.DBG_SHELL, { aux: enc.encode(text), delete: true });
  const msgs = await lastValueFrom(tx.rx$.pipe(toArray<Message>()));
  return { reply: msgs.filter((m) => m.aux.length > 0).map((m) => dec.decode(m.aux)).join(''), ms: performance.now() - t0 };
}

/** "N relays": what a transaction crosses before the service's node. */
function hops(relaysCrossed: number): string {
  return `${relaysCrossed} relay${relaysCrossed === 1 ? '' : 's'}`;
}

/** Relays a transaction on this span crosses: every router of its path but the originator. */
function relaysOn(span: SpanInfo): number {
  return Math.max(0, span.path.length - 1);
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The client's span of `service` once its path (originator first, then each
 * relay, ending with the client's neighbour) is one of `paths`. Waiting for
 * the path, not a dist, makes this independent of how dist is counted, and
 * since every router on that path relayed it only after adopting it, a
 * transaction sent then takes exactly that path (no call mid-failover).
 */
async function spanOnPath(client: Router, service: string, paths: readonly (readonly string[])[], signal: AbortSignal, what: string, names: ReadonlyMap<string, string>): Promise<SpanInfo> {
  const ok = (s: SpanInfo): boolean => s.via !== null && s.service === service && paths.some((p) => samePath(s.path, p));
  const seen = (): string => client.spans(service).map((s) => s.path.map((id) => names.get(id) ?? id).join('-')).join(', ') || 'none';
  const pending = waitFor(client.spans$, (e) => e.type !== 'down' && ok(e.span), signal, () => `${what} (the client sees ${service} by the path ${seen()})`);
  const now = client.spans(service).find(ok);
  if (now) {
    pending.catch(() => {});
    return now;
  }
  return (await pending).span;
}

/** Ring positions from `from` to `to` going one way (`step` +1 or -1), both ends included. */
function ringWalk(n: number, from: number, to: number, step: 1 | -1): number[] {
  const out = [from];
  for (let i = from; i !== to; ) {
    i = (i + step + n) % n;
    out.push(i);
  }
  return out;
}

/** The shortest way round a ring of n from `origin` to 0 (`origin` is not half way round). */
function shortestWay(n: number, origin: number): number[] {
  const up = ringWalk(n, origin, 0, 1);
  const down = ringWalk(n, origin, 0, -1);
  return up.length < down.length ? up : down;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'a mesh of relays on loopback TCP: discovery, transactions through relays, failover',
  usage: 'dmsg demo',
  details: 'Starts relays in a ring on 127.0.0.1, advertises two services, discovers them from a client,\ncuts a link on the client\'s path and shows the traffic moving to the other side of the ring.',
  options: {
    quick: { type: 'boolean', description: 'mesh part only: no codec intro, no throughput measurement' },
    relays: { type: 'string', valueName: 'N', description: 'relays in the ring (4..12, default 5)' },
    seconds: { type: 'string', valueName: 'N', description: 'seconds to measure header throughput at the end (default 0.5; 0 skips it)' },
    'timeout-ms': { type: 'string', valueName: 'MS', description: 'give up if the mesh part takes longer (default 8000)' },
    verbose: { type: 'boolean', short: 'v', description: "also print the relays' event log" },
  },
  async run({ values, io }: CommandContext): Promise<number> {
    const quick = values['quick'] === true;
    const n = intOption(values, 'relays', 5, 4, 12, 'demo');
    const seconds = quick ? 0 : numberOption(values, 'seconds', 0.5, 0, 60, 'demo');
    const timeoutMs = intOption(values, 'timeout-ms', 8000, 100, 600_000, 'demo');
    const out = io.stdout;
    const t0 = performance.now();
    if (!quick) codecSection(out);

    const signal = AbortSignal.timeout(timeoutMs);
    const relays: RelayHandle[] = [];
    let client: Router | undefined;
    const step = quick ? 1 : 2;
    try {
      // Ring: relay i dials relay i-1; the last one also dials relay 0.
      out.write(`${step}. Starting ${n} relays on loopback TCP, linked in a ring: ${Array.from({ length: n }, (_, i) => `n${i}`).join(' - ')} - n0\n`);
      for (let i = 0; i < n; i++) {
        const connect = i === 0 ? [] : i === n - 1 ? [relays[i - 1]!.addresses[0]!, relays[0]!.addresses[0]!] : [relays[i - 1]!.addresses[0]!];
        const log = values['verbose'] === true ? (line: string) => io.stderr.write(`   | ${line}\n`) : undefined;
        relays.push(await startRelay({ name: `n${i}`, listen: ['127.0.0.1:0'], connect, backoff: { minMs: 50, maxMs: 1000 }, ...(log ? { log } : {}) }));
        out.write(`   n${i} listens on ${relays[i]!.addresses[0]}${connect.length ? ` and links to ${connect.map((c) => `n${relays.findIndex((r) => r.addresses[0] === c)}`).join(' and ')}` : ''}\n`);
      }
      // Positions with one shortest way from n0 (none half way round), so that the
      // client's best path is unique before the cut and longer after it.
      const echoAt = n === 4 ? 1 : 2;
      const upperAt = 2 * (echoAt + 1) === n ? echoAt + 2 : echoAt + 1;
      serveEcho(relays[echoAt]!.router.advertise({ service: 'echo', instance: `n${echoAt}` }));
      const upperAd = relays[upperAt]!.router.advertise({ service: 'upper', instance: `n${upperAt}` });
      upperAd.transactions$.subscribe((tx) =>
        tx.rx$.subscribe({
          next: (m) => { if (m.aux.length > 0 && tx.canSend) tx.send(DMSG.DBG_SHELL, { aux: enc.encode(dec.decode(m.aux).toUpperCase()), delete: (m.header.cmd & DMSGF.DELETE) !== 0 }); },
          complete: () => tx.close(),
          error: () => {},
        }),
      );
      out.write(`\n${step + 1}. n${echoAt} advertises the service 'echo' (sends back what it gets); n${upperAt} advertises 'upper' (answers in capitals).\n`);
      out.write('   Each relay passes the advertisements (LNK_SPAN) on to its other links, one hop further each time.\n');

      out.write(`\n${step + 2}. A client links to n0 and waits for both services to show up:\n`);
      client = new Router({ name: 'client', peerType: DMSG_PEER.CLIENT });
      const c = client;
      const events: SpanEvent[] = [];
      c.spans$.subscribe((e) => events.push(e));
      c.attach(await connectTcp({ host: '127.0.0.1', port: Number(relays[0]!.addresses[0]!.split(':')[1]), signal }));
      const ids = relays.map((r) => r.router.nodeId);
      const names = new Map(ids.map((id, i) => [id, `n${i}`]));
      const toIds = (ways: number[][]): string[][] => ways.map((w) => w.map((i) => ids[i]!));
      // Wait for the shortest way round the ring from n0 (a longer one may show first).
      let echo = await spanOnPath(c, 'echo', toIds([shortestWay(n, echoAt)]), signal, `'echo' on its shortest path`, names);
      const upper = await spanOnPath(c, 'upper', toIds([shortestWay(n, upperAt)]), signal, `'upper' on its shortest path`, names);
      for (const s of [echo, upper]) out.write(`   found '${s.service}' on ${s.instance}: dist ${s.dist}, so a transaction crosses ${hops(relaysOn(s))} (n0 first)\n`);

      out.write(`\n${step + 3}. The client opens a transaction on each span; the relays carry it to the service and the reply back:\n`);
      for (const [s, text] of [[echo, 'hello, mesh'], [upper, 'hello, mesh']] as const) {
        const r = await ask(c, s, text);
        out.write(`   ${s.service}('${text}') -> '${r.reply}'  via ${hops(relaysOn(s))}, ${r.ms.toFixed(1)} ms\n`);
        if (r.reply !== (s.service === 'upper' ? text.toUpperCase() : text)) throw new CommandError('DEMO_MISMATCH', `${s.service} answered '${r.reply}'`);
      }

      // Cut the link between the echo node and its neighbour on the client's path; the
      // traffic must then go the other way round the ring.
      const next = ids.indexOf(echo.path[1] ?? ids[0]!);
      const side: 1 | -1 = next === (echoAt + 1) % n ? 1 : -1;
      const [dialer, listener] = side === 1 ? [next, echoAt] : [echoAt, next];
      out.write(`\n${step + 4}. Cutting the link n${Math.min(echoAt, next)} - n${Math.max(echoAt, next)}, which is on the client's path to 'echo'.\n`);
      const before = relaysOn(echo);
      // The other way is longer, so the client's best path becomes it only once the shorter
      // one is gone; and every router on it relayed it only after adopting it (the only way left).
      const moved = spanOnPath(c, 'echo', toIds([ringWalk(n, echoAt, 0, side === 1 ? -1 : 1)]), signal, `'echo' the other way round the ring`, names);
      const seen = events.length;
      relays[dialer]!.disconnect(relays[listener]!.addresses[0]!);
      echo = await moved;
      for (const e of events.slice(seen).filter((e) => e.span.service === 'echo')) {
        out.write(`   span event '${e.type}': echo/${e.span.instance} now ${e.type === 'down' ? 'unreachable' : `at dist ${e.span.dist}`}\n`);
      }
      out.write(`   The client's traffic now goes the other way round the ring: ${hops(before)} before, ${hops(relaysOn(echo))} now.\n`);
      const r = await ask(c, echo, 'still there?');
      out.write(`   echo('still there?') -> '${r.reply}'  via ${hops(relaysOn(echo))}, ${r.ms.toFixed(1)} ms\n`);
      if (r.reply !== 'still there?') throw new CommandError('DEMO_MISMATCH', `echo answered '${r.reply}'`);

      out.write(`\n${step + 5}. Shutting down: each relay withdraws its spans, then closes its links and listeners.\n`);
    } finally {
      await client?.close();
      await Promise.all(relays.map((r) => r.stop()));
    }
    out.write(`   Mesh part done in ${((performance.now() - t0) / 1000).toFixed(2)} s.\n`);

    if (seconds > 0) {
      out.write(`\nHeader throughput on this machine (one core, ~${seconds} s):\n`);
      const m = measureHeaders({ seconds: seconds / 2, baselines: false });
      out.write(`   encode + CRC:     ${formatNumber(m.encodeCrcHeadersPerSec).padStart(12)} headers/s\n`);
      out.write(`   decode + verify:  ${formatNumber(m.decodeVerifyHeadersPerSec).padStart(12)} headers/s\n`);
      out.write('   (more: npm run bench, or dmsg bench headers)\n');
    }
    out.write('\nNext: run relays yourself (dmsg help relay), list spans (dmsg spans), or see examples/.\n');
    return 0;
  },
};

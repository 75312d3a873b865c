/**
 * `dmsg bench ADDR SERVICE`: a load generator against a live mesh, as
 * `nats bench` is for NATS. N client connections to a relay, each with one
 * transaction on the nearest instance of SERVICE (wherever it is in the mesh,
 * so through relays); messages of a given aux size, open loop (as fast as the
 * link takes them) or at a target rate; request/reply against an echo or
 * one-way into a sink (the services of `dmsg relay --advertise`).
 *
 * - rr: each message is echoed; latency is measured per message, from when it
 *   was due (with --rate: its slot in the schedule, so a stall is not hidden,
 *   "coordinated omission"; open loop: when it was sent) to its echo, into an
 *   HdrHistogram. Messages/s counts echoes received.
 * - oneway: messages go into a DBG_SINK transaction; at the end the sink says
 *   how many arrived. Messages/s = arrived / (time until the sink's answer).
 */
import * as hdr from 'hdr-histogram-js';
import type { Transaction } from '../iocom/transaction.ts';
import type { Router, SpanInfo } from '../span/router.ts';
import { DMSG } from '../wire/constants.ts';
import type { Message } from '../wire/message.ts';
import { CommandError } from './command.ts';
import { dialRouter, waitForNearest, withinDeadline, type ClientLink, type ClientSettings } from './client.ts';
import { DBG_SINK } from './echo-service.ts';

export type LiveBenchMode = 'rr' | 'oneway';

export interface LiveBenchOptions {
  /** How to reach the relay (from clientSettings). */
  settings: ClientSettings;
  service: string;
  /** A named instance; @default the nearest instance of `service` */
  instance?: string;
  /** @default 'rr' */
  mode?: LiveBenchMode;
  /** Client connections, each with its own link and transaction. @default 1 */
  connections?: number;
  /** Aux bytes per message. @default 64 */
  size?: number;
  /** Target messages per second over all connections; 0 = open loop. @default 0 */
  rate?: number;
  /** How long to send, in ms. @default 5000 */
  durationMs?: number;
  /** rr open loop: messages outstanding per connection. @default 1 */
  inflight?: number;
  /** Called about every `progressEveryMs` while sending. */
  progress?: (p: LiveBenchProgress) => void;
  /** @default 1000 */
  progressEveryMs?: number;
}

export interface LiveBenchProgress {
  elapsedMs: number;
  sent: number;
  /** Echoes received (rr); 0 in oneway mode (the sink answers at the end). */
  received: number;
}

export interface LatencySummary {
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  samples: number;
}

export interface LiveBenchResult {
  mode: LiveBenchMode;
  service: string;
  /** The instances used (one per connection, usually all the same) and their dist as on the wire. */
  targets: string[];
  connections: number;
  size: number;
  rate: number;
  durationS: number;
  sent: number;
  /** Echoes received (rr) or messages the sink counted (oneway). */
  messages: number;
  msgsPerSec: number;
  /** Aux bytes of `messages`, per second, in MB (1e6 bytes). */
  mbPerSec: number;
  /** rr only. */
  latency?: LatencySummary;
}

/** Most rr messages outstanding per connection with --rate before sending pauses (bounds memory). */
const MAX_OUTSTANDING = 65_536;
/** Open-loop oneway: messages sent per turn before yielding to I/O. */
const BURST = 256;

interface Conn {
  router: Router;
  link: ClientLink;
  span: SpanInfo;
  tx: Transaction;
  sent: number;
  received: number;
  /** rr: when each outstanding message was due (ms, performance.now()). */
  due: number[];
  dueHead: number;
  sinkAnswer?: Promise<{ messages: number; bytes: number }>;
}

/** The sink's `{"messages":N,"bytes":B}`, or undefined for anything else (a peer's bytes never throw here). */
function parseSinkAnswer(aux: Uint8Array): { messages: number; bytes: number } | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(aux)) as { messages?: unknown; bytes?: unknown };
    return typeof v.messages === 'number' && typeof v.bytes === 'number' ? { messages: v.messages, bytes: v.bytes } : undefined;
  } catch {
    return undefined;
  }
}

function positiveInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new CommandError('INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

/** Run the load; resolves with rates and latencies. Throws LinkFailure / CommandError on failure. */
export async function runLiveBench(o: LiveBenchOptions): Promise<LiveBenchResult> {
  const mode = o.mode ?? 'rr';
  const connections = positiveInt('connections', o.connections ?? 1, 1, 1024);
  const size = positiveInt('size', o.size ?? 64, 1, 1 << 20);
  const rate = o.rate ?? 0;
  if (!Number.isFinite(rate) || rate < 0) throw new CommandError('INVALID_ARGUMENT', `rate must be >= 0, got ${rate}`);
  const durationMs = positiveInt('durationMs', o.durationMs ?? 5000, 1, 86_400_000);
  const inflight = positiveInt('inflight', o.inflight ?? 1, 1, MAX_OUTSTANDING);
  const s = o.settings;
  const aux = new Uint8Array(size);
  for (let i = 0; i < size; i++) aux[i] = 0x61 + (i % 26);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  const what = o.instance === undefined ? `'${o.service}'` : `'${o.service}/${o.instance}'`;

  const conns: Conn[] = [];
  try {
    for (let i = 0; i < connections; i++) {
      const { router, link } = await dialRouter(s, `dmsg-bench-${i}`);
      const span = await withinDeadline(waitForNearest(router, o.service, o.instance), link, s.timeoutMs, () => new CommandError('NO_SPAN', `no span of ${what} seen through ${s.endpoint.kind === 'unix' ? s.endpoint.path : `${s.endpoint.host}:${s.endpoint.port}`} within ${s.timeoutMs} ms`)).catch(async (err: unknown) => {
        await router.close();
        throw err;
      });
      const tx = router.open(span, mode === 'rr' ? DMSG.DBG_SHELL : DBG_SINK);
      conns.push({ router, link, span, tx, sent: 0, received: 0, due: [], dueHead: 0 });
    }

    let stopped = false;
    let failure: Error | undefined;
    const fail = (c: Conn, err: unknown): void => {
      failure ??= c.link.failure() ?? (err instanceof Error ? err : new Error(String(err)));
    };
    const perConnRate = rate / connections;
    const t0 = performance.now();
    const sendOne = (c: Conn, dueAt: number): boolean => {
      if (!c.tx.canSend) return false;
      c.tx.send(mode === 'rr' ? DMSG.DBG_SHELL : DBG_SINK, { aux });
      c.sent++;
      if (mode === 'rr') c.due.push(dueAt);
      return true;
    };

    for (const c of conns) {
      if (mode === 'rr') {
        c.tx.rx$.subscribe({
          next: (m: Message) => {
            // More echoes than messages sent (a misbehaving service) are ignored, not counted.
            if (m.aux.length === 0 || c.dueHead >= c.due.length) return;
            const now = performance.now();
            const dueAt = c.due[c.dueHead++]!;
            if (c.dueHead > 4096 && c.dueHead * 2 > c.due.length) {
              c.due = c.due.slice(c.dueHead);
              c.dueHead = 0;
            }
            c.received++;
            histogram.recordValue(Math.max(1, Math.round((now - dueAt) * 1000)));
            // Open loop: one answer frees one slot.
            if (rate === 0 && !stopped) sendOne(c, performance.now());
          },
          error: (err: unknown) => fail(c, err),
        });
      } else {
        c.sinkAnswer = new Promise((resolve, reject) => {
          let answer: { messages: number; bytes: number } | undefined;
          c.tx.rx$.subscribe({
            next: (m: Message) => {
              if (m.aux.length > 0) answer = parseSinkAnswer(m.aux);
            },
            complete: () => (answer ? resolve(answer) : reject(new CommandError('NO_SINK', `${c.span.service}/${c.span.instance} closed the transaction without a count: is it a dmsg relay sink (dmsg relay --advertise)?`))),
            error: (err: unknown) => { fail(c, err); reject(failure); },
          });
        });
        c.sinkAnswer.catch(() => {});
      }
    }

    // Sending.
    const timers: Array<ReturnType<typeof setInterval>> = [];
    const sentAll = (): number => conns.reduce((a, c) => a + c.sent, 0);
    const receivedAll = (): number => conns.reduce((a, c) => a + c.received, 0);
    if (o.progress) {
      const p = o.progress;
      timers.push(setInterval(() => p({ elapsedMs: performance.now() - t0, sent: sentAll(), received: receivedAll() }), o.progressEveryMs ?? 1000));
    }
    if (rate > 0) {
      // A schedule: message k of a connection is due at t0 + k / perConnRate.
      timers.push(
        setInterval(() => {
          const now = performance.now();
          for (const c of conns) {
            const due = Math.floor(((now - t0) / 1000) * perConnRate);
            while (c.sent < due && !stopped) {
              if (mode === 'rr' && c.sent - c.received >= MAX_OUTSTANDING) break;
              if (!c.link.iocom.writable && mode === 'oneway') break;
              if (!sendOne(c, t0 + (c.sent / perConnRate) * 1000)) break;
            }
          }
        }, 2),
      );
    } else if (mode === 'rr') {
      for (const c of conns) for (let k = 0; k < inflight; k++) sendOne(c, performance.now());
    } else {
      for (const c of conns) {
        void (async () => {
          while (!stopped && c.tx.canSend) {
            for (let k = 0; k < BURST && c.link.iocom.writable && !stopped; k++) sendOne(c, 0);
            if (!c.link.iocom.writable) await c.link.iocom.whenWritable().catch(() => {});
            else await new Promise<void>((r) => setImmediate(r));
          }
        })().catch((err: unknown) => fail(c, err));
      }
    }

    await withinDeadline(new Promise<void>((r) => setTimeout(r, durationMs)), conns[0]!.link, durationMs + s.timeoutMs, () => new Error('unreachable'));
    stopped = true;
    for (const t of timers) clearInterval(t);
    const sendEnd = performance.now();
    if (failure) throw failure;

    let messages: number;
    let durationS: number;
    if (mode === 'rr') {
      // Echoes received while sending; the outstanding ones are drained (their latency counts) before closing.
      messages = receivedAll();
      durationS = (sendEnd - t0) / 1000;
      const drained = Promise.all(conns.map((c) => new Promise<void>((resolve) => {
        const check = (): void => { if (c.received >= c.sent || !c.tx.canSend) resolve(); else setImmediate(check); };
        check();
      })));
      await withinDeadline(drained, conns[0]!.link, s.timeoutMs, () => new CommandError('TIMEOUT', `echoes still missing ${s.timeoutMs} ms after sending stopped`));
      for (const c of conns) c.tx.close();
    } else {
      for (const c of conns) c.tx.close();
      const answers = await withinDeadline(Promise.all(conns.map((c) => c.sinkAnswer!)), conns[0]!.link, Math.max(s.timeoutMs, durationMs), () => new CommandError('TIMEOUT', `the sink did not answer within ${Math.max(s.timeoutMs, durationMs)} ms after sending stopped`));
      messages = answers.reduce((a, x) => a + x.messages, 0);
      durationS = (performance.now() - t0) / 1000;
    }
    if (failure) throw failure;
    const ms = (us: number): number => us / 1000;
    const result: LiveBenchResult = {
      mode,
      service: o.service,
      targets: [...new Set(conns.map((c) => `${c.span.service}/${c.span.instance} (dist ${c.span.dist})`))],
      connections,
      size,
      rate,
      durationS,
      sent: sentAll(),
      messages,
      msgsPerSec: messages / durationS,
      mbPerSec: (messages * size) / durationS / 1e6,
    };
    if (mode === 'rr') {
      // A percentile is its bucket's highest equivalent value (3 significant digits): never above the exact max.
      const max = histogram.maxValue;
      const at = (p: number): number => ms(Math.min(histogram.getValueAtPercentile(p), max));
      result.latency = {
        p50: at(50),
        p90: at(90),
        p99: at(99),
        p999: at(99.9),
        max: ms(max),
        samples: histogram.totalCount,
      };
    }
    return result;
  } finally {
    histogram.destroy();
    await Promise.all(conns.map((c) => c.router.close()));
  }
}

/**
 * One node of the relay benchmark's chain (client — relay … — server): a
 * Router that listens on 127.0.0.1 and may connect upstream. The server
 * node advertises SERVICE; on each transaction opened on it:
 * - a stream (opened without DELETE): counts every message of it;
 * - a round trip (CREATE|DELETE): `reply(0)` when the DELETE completes rx$.
 *
 * Used in the node processes (bench/relay-worker.ts) and in-process.
 */
import type { Duplex } from 'node:stream';
import { DMSGF } from '../src/wire/constants.ts';
import { Router } from '../src/span/router.ts';
import type { Transaction } from '../src/iocom/transaction.ts';
import type { Message } from '../src/wire/message.ts';
import { connectTcp, listenTcp, type TcpServer } from '../src/transport/tcp.ts';
import { IOCOM_OPTIONS, SERVICE, type NodeRole } from './relay-shared.ts';
import { RelayOps } from '../src/cli/ops/relay-ops.ts';
import type { IocomOptions } from '../src/iocom/options.ts';

/**
 * RELAY_BENCH_METRICS=MS: every node also runs the ops layer (the observer
 * on each link, the metrics HTTP server on 127.0.0.1) and scrapes its own
 * /metrics and /stats.json every MS milliseconds (Prometheus scrapes every
 * 15 s by default: this is far harsher). Unset or 0: no ops layer.
 */
const SCRAPE_MS = Number(process.env.RELAY_BENCH_METRICS ?? 0);

async function withOps(router: Router): Promise<{ attach(stream: Duplex): void; close(): Promise<void> }> {
  if (!(SCRAPE_MS > 0)) return { attach: (s) => void router.attach(s), close: async () => {} };
  const ops = new RelayOps(router);
  await ops.start([], '127.0.0.1:0');
  const base = `http://${ops.metricsAddress}`;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    Promise.all([fetch(`${base}/metrics`).then((r) => r.text()), fetch(`${base}/stats.json`).then((r) => r.text())]).finally(() => (busy = false));
  }, SCRAPE_MS);
  timer.unref();
  return {
    attach: (stream) => ops.observer.attached(router.attach(stream), stream, 'unknown'),
    close: async () => {
      clearInterval(timer);
      await ops.close();
    },
  };
}

/**
 * Answers one round trip. Observers are classes, not closures: tsx wraps
 * every closure it creates in a naming helper, a cost compiled code would not have.
 */
class Replier {
  readonly #tx: Transaction;
  constructor(tx: Transaction) {
    this.#tx = tx;
  }
  complete(): void {
    if (this.#tx.canSend) this.#tx.reply(0);
  }
  error(): void {}
}

/** Counts the messages of stream transactions (every one, the CREATE included). */
export class StreamCounter {
  count = 0;
  next(_m: Message): void {
    this.count++;
  }
  error(): void {}
}

export interface BenchNode {
  readonly router: Router;
  /** The TCP port it listens on (0 when it does not listen). */
  readonly port: number;
  /** The server node's stream counter (null on relays). */
  readonly counter: StreamCounter | null;
  /** Connect upstream over TCP; resolves when the span is seen, with the relays between (its path length - 1, whatever the dist convention); `noWait`: at once, with -1. */
  connectTcp(port: number, noWait?: boolean): Promise<number>;
  /** Attach an already connected stream upstream; resolves when the span is seen. */
  connectStream(stream: Duplex): Promise<number>;
  close(): Promise<void>;
}

let nextNode = 0;

/**
 * RELAY_NODE_EARLY_FLUSH=bytes: a relay node's links write the first that
 * many bytes of each turn at once (IocomOptions.earlyFlushBytes; the relay
 * bench's `early` relay process, or every relay of an in-process chain).
 */
const EARLY_FLUSH = Number(process.env.RELAY_NODE_EARLY_FLUSH ?? 0);
const RELAY_IOCOM: IocomOptions = EARLY_FLUSH > 0 ? Object.freeze({ ...IOCOM_OPTIONS, earlyFlushBytes: EARLY_FLUSH }) : IOCOM_OPTIONS;

export async function startNode(role: NodeRole, name: string, listen: boolean): Promise<BenchNode> {
  const id = nextNode++;
  const router = new Router({ name, localRnss: 1 + id, iocom: role === 'relay' ? RELAY_IOCOM : IOCOM_OPTIONS });
  let counter: StreamCounter | null = null;
  if (role === 'server') {
    const c = (counter = new StreamCounter());
    router.advertise({ service: SERVICE, instance: name }).transactions$.subscribe((tx) => {
      const first = tx.first;
      if (first !== null && first.header.cmd & DMSGF.DELETE) tx.rx$.subscribe(new Replier(tx));
      else tx.rx$.subscribe(c);
    });
  }
  const ops = await withOps(router);
  let server: TcpServer | null = null;
  if (listen) server = await listenTcp({ host: '127.0.0.1', port: 0 }, (sock) => ops.attach(sock));
  const spanSeen = async (): Promise<number> => (await router.waitForSpan(SERVICE, AbortSignal.timeout(20_000))).path.length - 1;
  return {
    router,
    port: server === null ? 0 : server.address().port,
    counter,
    connectTcp: async (port, noWait = false) => {
      ops.attach(await connectTcp({ host: '127.0.0.1', port }));
      return noWait ? -1 : spanSeen();
    },
    connectStream: (stream) => {
      ops.attach(stream);
      return spanSeen();
    },
    close: async () => {
      for (const l of router.links) l.iocom.destroy();
      await router.close();
      await server?.close();
      await ops.close();
    },
  };
}

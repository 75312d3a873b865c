/**
 * The operability of one relay, as the daemon wires it: a RelayObserver on
 * its router, a MetricsRegistry with the relay's collector (services add
 * theirs with `registry.register()`), and, when asked, the ops HTTP server
 * (`/metrics`, `/stats.json`, `/healthz`, `/readyz`, `/events`, `/`).
 */
import type { Router } from '../../span/router.ts';
import { InvalidArgumentError } from '../../wire/errors.ts';
import { parseEndpoint } from '../address.ts';
import { MetricsRegistry } from './metrics-registry.ts';
import { startOpsServer, type OpsServer } from './ops-server.ts';
import { RelayObserver } from './relay-observer.ts';

export interface RelayOpsOptions {
  /** The relay dials peers (readiness then needs one linked). @default false */
  expectPeers?: boolean;
  /** Text lines for protocol errors and keepalive losses. @default none */
  log?: (line: string) => void;
  /** /events update interval in ms. @default 1000 */
  eventIntervalMs?: number;
}

/** Parse a `--metrics` address: HOST:PORT or [V6]:PORT (plain HTTP; port 0 picks one). */
export function parseMetricsAddress(text: string): { host: string; port: number } {
  let e;
  try {
    e = parseEndpoint(text, 'listen', '--metrics');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  if (e.kind !== 'tcp' || e.explicit) throw new InvalidArgumentError(`--metrics ${JSON.stringify(text)}: expected HOST:PORT (plain HTTP)`);
  return { host: e.host, port: e.port };
}

export class RelayOps {
  readonly observer: RelayObserver;
  readonly registry = new MetricsRegistry();
  #server: OpsServer | null = null;
  readonly #eventIntervalMs: number | undefined;

  constructor(router: Router, options: RelayOpsOptions = {}) {
    this.observer = new RelayObserver(router, { expectPeers: options.expectPeers ?? false, ...(options.log ? { log: options.log } : {}) });
    this.registry.register('relay', () => this.observer.collect());
    this.#eventIntervalMs = options.eventIntervalMs;
  }

  /** The ops server's `HOST:PORT`, or null when not serving. */
  get metricsAddress(): string | null {
    return this.#server?.address ?? null;
  }

  /** The listeners are bound; start the ops server on `metrics` if given. */
  async start(addresses: readonly string[], metrics?: string): Promise<void> {
    this.observer.setListening(addresses);
    if (metrics === undefined) return;
    const { host, port } = parseMetricsAddress(metrics);
    this.#server = await startOpsServer({
      host,
      port,
      registry: this.registry,
      stats: () => this.observer.stats(),
      ready: () => this.observer.ready,
      ...(this.#eventIntervalMs !== undefined ? { eventIntervalMs: this.#eventIntervalMs } : {}),
    });
  }

  async close(): Promise<void> {
    this.observer.dispose();
    await this.#server?.close();
  }
}

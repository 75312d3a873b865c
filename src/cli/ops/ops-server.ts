/**
 * The operations HTTP server of a relay (`dmsg relay --metrics HOST:PORT`):
 *
 * | path          | what                                                              |
 * |---------------|-------------------------------------------------------------------|
 * | `/metrics`    | Prometheus text (every collector of the registry)                 |
 * | `/stats.json` | the relay's snapshot (RelayStats) plus the same metric families    |
 * | `/healthz`    | 200 while the process serves requests                             |
 * | `/readyz`     | 200 when listening and, with peers configured, linked to one; else 503 |
 * | `/events`     | Server-Sent Events: one `stats` event (the snapshot) per interval |
 * | `/`           | the live status page (status-page.ts)                             |
 *
 * Figures are read when asked (collect on scrape). One interval timer runs
 * only while an `/events` client is connected; a client that does not read
 * is skipped while its socket is full and dropped past a byte budget, and
 * the number of such clients is bounded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from './exposition.ts';
import type { MetricsRegistry } from './metrics-registry.ts';
import type { RelayStats } from './relay-observer.ts';
import { STATUS_PAGE_HTML } from './status-page.ts';

export interface OpsServerOptions {
  /** Address to bind; use 127.0.0.1 unless the port must be reachable from elsewhere. */
  host: string;
  /** Port (0 picks a free one). */
  port: number;
  registry: MetricsRegistry;
  /** The snapshot served at /stats.json and /events. */
  stats: () => RelayStats;
  /** What /readyz checks. */
  ready: () => boolean;
  /** Interval of /events updates, in ms. @default 1000 */
  eventIntervalMs?: number;
  /** Most /events clients at once; more get 503. @default 32 */
  maxEventClients?: number;
  /** Bytes an /events client may leave unread before it is dropped. @default 1 MiB */
  maxEventBacklogBytes?: number;
}

export interface OpsServer {
  /** `HOST:PORT` bound (real port). */
  readonly address: string;
  readonly port: number;
  /** Stop serving; open /events streams are ended. Idempotent. */
  close(): Promise<void>;
}

/** The /stats.json body: the snapshot and the metric families. */
export function statsDocument(stats: RelayStats, registry: MetricsRegistry): string {
  return JSON.stringify({ ...stats, metrics: registry.collect() });
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const intervalMs = options.eventIntervalMs ?? 1000;
  const maxClients = options.maxEventClients ?? 32;
  const maxBacklog = options.maxEventBacklogBytes ?? 1 << 20;
  if (!Number.isInteger(intervalMs) || intervalMs < 10) throw new RangeError(`eventIntervalMs must be an integer >= 10, got ${intervalMs}`);
  const clients = new Set<http.ServerResponse>();
  let timer: NodeJS.Timeout | undefined;

  const sendEvent = (res: http.ServerResponse, body: string): void => {
    if (res.writableNeedDrain) {
      // A client that does not read: skip it, and drop it once too far behind.
      if (res.writableLength > maxBacklog) res.destroy();
      return;
    }
    res.write(`event: stats\ndata: ${body}\n\n`);
  };
  const tick = (): void => {
    if (clients.size === 0) return;
    let body: string;
    try {
      body = JSON.stringify(options.stats());
    } catch {
      return;
    }
    for (const c of clients) sendEvent(c, body);
  };
  const removeClient = (res: http.ServerResponse): void => {
    clients.delete(res);
    if (clients.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    switch (url) {
      case '/metrics':
        return send(200, EXPOSITION_CONTENT_TYPE, renderExposition(options.registry.collect()));
      case '/stats.json':
        return send(200, 'application/json', statsDocument(options.stats(), options.registry));
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz':
        return options.ready() ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', 'not ready\n');
      case '/':
      case '/index.html':
        return send(200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
      case '/events': {
        if (clients.size >= maxClients) return send(503, 'text/plain', 'too many event clients\n');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(`retry: ${Math.max(intervalMs, 1000)}\n\n`);
        clients.add(res);
        res.on('close', () => removeClient(res));
        timer ??= setInterval(tick, intervalMs);
        timer.unref();
        // The first snapshot at once, so a page draws without waiting an interval.
        try {
          sendEvent(res, JSON.stringify(options.stats()));
        } catch {
          // the next tick tries again
        }
        return;
      }
      default:
        return send(404, 'text/plain', 'not found: try /, /metrics, /stats.json, /healthz, /readyz, /events\n');
    }
  };

  const server = http.createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${(err as Error).message}\n`);
    }
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed: Promise<void> | undefined;
  return {
    address: `${host}:${addr.port}`,
    port: addr.port,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        if (timer) clearInterval(timer);
        timer = undefined;
        for (const c of clients) c.end();
        clients.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

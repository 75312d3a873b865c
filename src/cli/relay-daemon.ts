/**
 * A relay node as a library: a Router with listeners (TCP, TLS, Unix) whose
 * accepted streams it attaches, reconnecting dialers for its peers, and
 * echo services for what it advertises. `dmsg relay` is this plus a command
 * line; tests, the demo and your own daemon can run it in-process.
 */
import type { KeyObject } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Subscription } from 'rxjs';
import { Router, type Advertisement, type RouterOptions } from '../span/router.ts';
import { config as rxjsConfig } from 'rxjs';
import { resolveIocomOptions, type BudgetOptions, type IocomOptions } from '../iocom/options.ts';
import { Budget, type BudgetStats } from '../iocom/budget.ts';
import type { BackoffOptions, ReconnectingDialer, TransportServer } from '../transport/index.ts';
import { connectTcp, connectTls, connectUnix, listenTcp, listenTls, listenUnix, reconnectingDialer } from '../transport/index.ts';
import { InvalidArgumentError } from '../wire/errors.ts';
import { formatEndpoint, parseEndpoint, type Endpoint } from './address.ts';
import { serveEcho } from './echo-service.ts';
import { fingerprint, type NodeKeyPair } from './keys.ts';
import { keyFingerprint } from '../iocom/auth.ts';
import { RelayOps } from './ops/relay-ops.ts';
import { startDlmNode, type DlmNode } from '../services/dlm/index.ts';
import { lockspaceRows, registerDlmMetrics } from './dlm-metrics.ts';
import { midcommsCollector } from './ops/midcomms-metrics.ts';

export interface TlsFiles {
  /** PEM certificate chain of this node. */
  cert: string | Buffer;
  /** PEM private key of the certificate. */
  key: string | Buffer;
  /** PEM CA bundle to verify peers with; on a listener it also asks clients for a certificate (mutual TLS). @default none: the system's CAs verify servers, clients are not asked for a certificate */
  ca?: string | Buffer;
}

export interface ServiceSpec {
  /** Service name (the span's cluster label); at most 127 bytes of UTF-8. */
  service: string;
  /** @default the relay's name */
  instance?: string;
}

export interface RelayConfig {
  /** Node name (LNK_CONN peer_label). @default the host name */
  name?: string;
  /** Node id (uuid). @default random */
  nodeId?: string;
  /** Where to listen: `HOST:PORT` (port 0 picks one), `[V6]:PORT`, `tls:HOST:PORT`, `unix:/path`. @default [] (no listener) */
  listen?: readonly (string | Endpoint)[];
  /** Peers to keep a link to, redialled with backoff and jitter when the link drops. @default [] */
  connect?: readonly (string | Endpoint)[];
  /** Services to advertise; each answers transactions with an echo (see echo-service.ts). @default [] */
  advertise?: readonly (string | ServiceSpec)[];
  /** This node's Ed25519 key pair: it proves itself to peers with LNK_AUTH. @default none (the node proves nothing) */
  keyPair?: NodeKeyPair;
  /** Peers' Ed25519 public keys: when given, a peer must prove one of them. @default none (peers are not verified) */
  allowedPeerKeys?: readonly KeyObject[];
  /** TLS material: bare HOST:PORT listens and dials use TLS when set (`tcp:HOST:PORT` stays plain). @default none (plain TCP) */
  tls?: TlsFiles;
  /** Redial delay policy. @default transport's (100 ms doubling to 30 s, full jitter) */
  backoff?: BackoffOptions;
  /**
   * More iocom options for every link (timeouts, limits). The daemon's
   * defaults differ from the iocom's in two places: a peer has
   * `authTimeoutMs` 5000 (not 10000) to authenticate, and `earlyFlushBytes`
   * is 1024 (not 0): a relay forwards a turn's batch in two writes, so the
   * next hop starts on its first messages while the relay still works on
   * the rest (docs/perf.md D).
   */
  iocom?: Omit<IocomOptions, 'keyPair' | 'allowedPeerKeys' | 'name' | 'budget' | 'log'>;
  /**
   * The daemon-wide budgets shared by all links (a Budget, or its options):
   * see src/iocom/budget.ts and docs/limits.md. @default new Budget() (BUDGET_DEFAULTS)
   */
  budget?: Budget | BudgetOptions;
  /** More router options (span limits, peer type). @default SPAN_DEFAULTS */
  router?: Omit<RouterOptions, 'name' | 'nodeId' | 'iocom' | 'log'>;
  /** One line per event (links, dials, spans), without timestamp. @default none */
  log?: (line: string) => void;
  /** Serve /metrics, /stats.json, /healthz, /readyz and the status page here: `HOST:PORT` (port 0 picks one). @default none (not served) */
  metrics?: string;
  /** Interval of the status page's live updates (/events), in ms. @default 1000 */
  metricsEventIntervalMs?: number;
  /** DLM lockspaces to join (members from spans; `dmsg locks` inspects them; docs/dlm.md). @default [] (no DLM) */
  lockspaces?: readonly string[];
  /** Voters (DLM node ids) of those lockspaces: membership by views with a quorum (docs/views.md). @default none (members follow spans, no split-brain protection) */
  voters?: readonly number[];
  /** Directory of the views state files. @default none (in memory) */
  viewsStateDir?: string;
}

export interface RelayPeer {
  /** The `--connect` target as text. */
  readonly target: string;
  readonly dialer: ReconnectingDialer;
}

export interface RelayHandle {
  readonly router: Router;
  /** Bound listen addresses, in `listen` order, as text usable by `--connect` (real ports). */
  readonly addresses: readonly string[];
  readonly peers: readonly RelayPeer[];
  readonly advertisements: readonly Advertisement[];
  /** The budget every link of this relay takes part in. */
  readonly budget: Budget;
  /** What the relay holds now: the budget's totals and sheds, and the router's counts. */
  stats(): RelayStats;
  /** Metrics, health and the observer of the router (src/cli/ops); `ops.metricsAddress` is the bound --metrics address. */
  readonly ops: RelayOps;
  /** The DLM node when `lockspaces` were given, else null. */
  readonly dlm: DlmNode | null;
  /** Stop redialling `target` and drop its link (a permanent cut). False if no such peer. */
  disconnect(target: string): boolean;
  /** Withdraw spans, close links gracefully, close listeners. Idempotent. */
  stop(): Promise<void>;
}

export interface RelayStats {
  budget: BudgetStats;
  router: ReturnType<Router['stats']>;
}

/** The daemon's handshake deadline (shorter than the iocom's default): a peer that owes its proof holds a slot of maxUnauthenticated. */
const DAEMON_AUTH_TIMEOUT_MS = 5000;
/** The daemon's early flush: the first KiB of each turn's writes goes at once (IocomOptions.earlyFlushBytes; the iocom's default is 0). */
const DAEMON_EARLY_FLUSH_BYTES = 1024;

/**
 * rxjs reports an exception thrown by a subscriber it wraps (a `pipe()`
 * chain's final observer, any Subject outside the iocom) by rethrowing it from
 * a timer, which ends the process. The iocom guards its own observables; a
 * running relay also logs whatever else rxjs would throw, instead of dying.
 * Counted, so several relays in one process share one handler.
 */
let rxjsGuards = 0;
let rxjsLog: ((line: string) => void) | undefined;
function guardRxjs(log: (line: string) => void): () => void {
  if (rxjsGuards === 0 && rxjsConfig.onUnhandledError === null) {
    rxjsLog = log;
    rxjsConfig.onUnhandledError = (err: unknown) => rxjsLog?.(`an rxjs subscriber threw (caught, not rethrown): ${err instanceof Error ? err.message : String(err)}`);
  } else if (rxjsLog === undefined) {
    return () => {}; // someone else's handler is installed: leave it
  }
  rxjsGuards++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--rxjsGuards === 0) {
      rxjsConfig.onUnhandledError = null;
      rxjsLog = undefined;
    }
  };
}

function toEndpoint(e: string | Endpoint, role: 'listen' | 'connect'): Endpoint {
  if (typeof e !== 'string') return e;
  try {
    return parseEndpoint(e, role, role === 'listen' ? 'listen address' : 'connect address');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Whether a bound listen address (as text) and a connect endpoint name the same socket (loopback and wildcard hosts match). */
function sameEndpoint(bound: string, e: Endpoint): boolean {
  let b: Endpoint;
  try {
    b = parseEndpoint(bound, 'listen', 'address');
  } catch {
    return false;
  }
  if (b.kind === 'unix' || e.kind === 'unix') return b.kind === e.kind && b.kind === 'unix' && e.kind === 'unix' && b.path === e.path;
  const local = (h: string): string => (['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(h) ? 'local' : h);
  return b.port === e.port && local(b.host) === local(e.host);
}

/** `SERVICE[/INSTANCE]` → spec. */
export function parseServiceSpec(text: string): ServiceSpec {
  const i = text.indexOf('/');
  const service = i < 0 ? text : text.slice(0, i);
  const instance = i < 0 ? undefined : text.slice(i + 1);
  if (service === '') throw new InvalidArgumentError(`service ${JSON.stringify(text)}: empty service name; expected SERVICE[/INSTANCE]`);
  if (instance === '') throw new InvalidArgumentError(`service ${JSON.stringify(text)}: empty instance name; expected SERVICE[/INSTANCE]`);
  if (instance !== undefined && instance.includes('/')) throw new InvalidArgumentError(`service ${JSON.stringify(text)}: more than one '/'; expected SERVICE[/INSTANCE]`);
  return instance === undefined ? { service } : { service, instance };
}

/** Start a relay: binds every listener (rejects if one fails, closing the others), then dials peers. */
export async function startRelay(config: RelayConfig): Promise<RelayHandle> {
  const log = config.log ?? (() => {});
  const listen = (config.listen ?? []).map((e) => toEndpoint(e, 'listen'));
  const connect = (config.connect ?? []).map((e) => toEndpoint(e, 'connect'));
  const services = (config.advertise ?? []).map((s) => (typeof s === 'string' ? parseServiceSpec(s) : s));
  const tls = config.tls;
  const useTls = (e: Endpoint): boolean => e.kind === 'tls' || (e.kind === 'tcp' && !e.explicit && tls !== undefined);
  for (const e of [...listen, ...connect]) {
    if (e.kind === 'tls' && !tls) throw new InvalidArgumentError(`${formatEndpoint(e)} needs TLS material (tls.cert and tls.key)`);
  }

  const budget = config.budget instanceof Budget ? config.budget : new Budget(config.budget);
  const iocom: IocomOptions = { authTimeoutMs: DAEMON_AUTH_TIMEOUT_MS, earlyFlushBytes: DAEMON_EARLY_FLUSH_BYTES, ...config.iocom, budget, log };
  if (config.keyPair) iocom.keyPair = config.keyPair;
  if (config.allowedPeerKeys && config.allowedPeerKeys.length > 0) iocom.allowedPeerKeys = [...config.allowedPeerKeys];
  // A link whose peer has our own node id leads back to this relay (a --connect to itself).
  let selfId = '';
  const routerLog = (line: string): void => {
    log(line);
    if (selfId !== '' && line.endsWith(`${selfId} connected`)) log(`warning: ${/link [^\s:]+/.exec(line)?.[0] ?? 'a link'} leads back to this relay itself (the peer has our node id): check --connect`);
  };
  resolveIocomOptions(iocom); // every link's options, checked once before anything binds
  const routerOptions: RouterOptions = { ...config.router, iocom, log: routerLog };
  if (config.name !== undefined) routerOptions.name = config.name;
  if (config.nodeId !== undefined) routerOptions.nodeId = config.nodeId;
  const router = new Router(routerOptions);
  selfId = router.nodeId;
  const releaseRxjs = guardRxjs(log);
  const ops = new RelayOps(router, { expectPeers: connect.length > 0, log, ...(config.metricsEventIntervalMs !== undefined ? { eventIntervalMs: config.metricsEventIntervalMs } : {}) });

  if (!config.keyPair && !iocom.allowedPeerKeys) {
    const tlsUsed = tls !== undefined && [...listen, ...connect].some(useTls);
    if (tlsUsed && tls.ca) log('links are authenticated by mutual TLS (peers need a certificate signed by the --tls-ca); no LNK_AUTH keys');
    else if (tlsUsed) log('links are encrypted (TLS) but peers are not verified: no --tls-ca, --key or --allow-key given');
    else log('links run open (unauthenticated): no --key or --allow-key given');
  } else {
    if (config.keyPair) log(`node key ${fingerprint(config.keyPair.publicKey)}`);
    if (iocom.allowedPeerKeys) log(`peers must prove one of ${iocom.allowedPeerKeys.length} allowed key(s)`);
    else log('peers are not verified (no --allow-key): any peer may link');
  }

  let stopping = false;
  const attach = (stream: Duplex, what: string): void => {
    if (stopping) {
      stream.destroy();
      return;
    }
    const link = router.attach(stream);
    ops.observer.attached(link, stream, what.startsWith('accepted') ? 'in' : 'out');
    log(`${what}: link ${link.connId}`);
    link.iocom.ready.then(
      () => {
        const key = link.iocom.peerKey;
        if (key) log(`link ${link.connId}: peer key ${keyFingerprint(key)} verified`);
      },
      () => {},
    );
  };

  const servers: TransportServer<unknown>[] = [];
  // Sockets past the connection budget are closed by the listener before any TLS or protocol work.
  const maxConnections = budget.limits.maxConnections;
  const addresses: string[] = [];
  try {
    for (const e of listen) {
      let label = formatEndpoint(e);
      const onError = (err: Error): void => log(`listener ${label}: ${err.message.trim()}`);
      let server: TransportServer<unknown>;
      let bound: Endpoint;
      if (e.kind === 'unix') {
        server = await listenUnix({ path: e.path, onError, maxConnections }, (s) => attach(s, `accepted on unix:${e.path}`));
        bound = e;
      } else if (useTls(e)) {
        const t = tls!;
        const s = await listenTls({ host: e.host, port: e.port, cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca, requestCert: true } : {}), onError, maxConnections }, (c) => attach(c, `accepted tls from ${c.remoteAddress}:${c.remotePort}`));
        server = s;
        bound = { kind: 'tls', host: s.address().host, port: s.address().port, explicit: true };
      } else {
        const s = await listenTcp({ host: e.host, port: e.port, onError, maxConnections }, (c) => attach(c, `accepted from ${c.remoteAddress}:${c.remotePort}`));
        server = s;
        bound = { kind: 'tcp', host: s.address().host, port: s.address().port, explicit: false };
      }
      servers.push(server);
      label = formatEndpoint(bound);
      addresses.push(label);
      log(`listening ${formatEndpoint(bound)}`);
    }
    await ops.start(addresses, config.metrics);
    if (ops.metricsAddress) log(`metrics on http://${ops.metricsAddress}/`);
  } catch (err) {
    await ops.close();
    await Promise.all(servers.map((s) => s.close()));
    await router.close();
    releaseRxjs();
    throw err;
  }

  for (const e of connect) {
    if (addresses.some((a) => sameEndpoint(a, e))) log(`warning: --connect ${formatEndpoint(e)} is this relay's own listen address: it would connect to itself`);
  }

  const advertisements: Advertisement[] = [];
  const echoes: Subscription[] = [];
  for (const s of services) {
    const ad = router.advertise(s.instance === undefined ? { service: s.service } : { service: s.service, instance: s.instance });
    advertisements.push(ad);
    echoes.push(serveEcho(ad));
  }

  let dlm: DlmNode | null = null;
  let unregisterDlm = (): void => {};
  if (config.lockspaces && config.lockspaces.length > 0) {
    try {
      dlm = await startDlmNode(router, { lockspaces: config.lockspaces, ...(config.voters ? { voters: config.voters } : {}), ...(config.viewsStateDir !== undefined ? { viewsStateDir: config.viewsStateDir } : {}) });
    } catch (err) {
      for (const e of echoes) e.unsubscribe();
      await ops.close();
      await Promise.all(servers.map((s) => s.close()));
      await router.close();
      releaseRxjs();
      throw err;
    }
    const unregisterDlmFigures = registerDlmMetrics(ops.registry, dlm);
    // The DLM runs over midcomms: its sessions' figures too (retransmits, window waits ...).
    const unregisterMidcomms = ops.registry.register('midcomms', midcommsCollector(dlm.midcomms));
    unregisterDlm = () => {
      unregisterDlmFigures();
      unregisterMidcomms();
    };
    const node = dlm;
    ops.observer.setLockspaces(() => lockspaceRows(node));
    log(`dlm: joined lockspace${config.lockspaces.length === 1 ? '' : 's'} ${config.lockspaces.join(', ')}`);
  }

  const peers: RelayPeer[] = connect.map((e) => {
    const target = formatEndpoint(e);
    const dial = (signal: AbortSignal): Promise<Duplex> => {
      if (e.kind === 'unix') return connectUnix({ path: e.path, signal });
      if (useTls(e)) {
        const t = tls!;
        return connectTls({ host: e.host, port: e.port, cert: t.cert, key: t.key, ...(t.ca ? { ca: t.ca } : {}), signal });
      }
      return connectTcp({ host: e.host, port: e.port, signal });
    };
    log(`dialing ${target}`);
    const dialer = reconnectingDialer<Duplex>({
      dial,
      ...(config.backoff ? { backoff: config.backoff } : {}),
      onConnection: (stream, info) => {
        attach(stream, `connected to ${target}${info.connection > 1 ? ` (connection ${info.connection})` : ''}`);
        stream.once('close', () => { if (!stopping) log(`link to ${target} closed; redialling with backoff`); });
      },
      onDialError: (err, info) => log(`dial ${target} failed (${info.failures} in a row): ${(err as Error).message}; retry in ${info.delayMs} ms`),
    });
    return { target, dialer };
  });

  let stopped: Promise<void> | undefined;
  return {
    router,
    addresses,
    peers,
    advertisements,
    budget,
    stats(): RelayStats {
      return { budget: budget.stats(), router: router.stats() };
    },
    ops,
    dlm,
    disconnect(target: string): boolean {
      const peer = peers.find((p) => p.target === target);
      if (!peer) return false;
      log(`disconnect ${target}: no more redials`);
      peer.dialer.stop({ destroyConnection: true });
      return true;
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        stopping = true;
        for (const p of peers) p.dialer.stop();
        for (const e of echoes) e.unsubscribe();
        unregisterDlm();
        dlm?.close();
        // Router.close() withdraws our spans first, then closes every link gracefully.
        await router.close();
        await Promise.all(servers.map((s) => s.close()));
        await ops.close();
        releaseRxjs();
        log('stopped');
      })();
      return stopped;
    },
  };
}

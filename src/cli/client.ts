/**
 * What the client commands (spans, ping, shell, call) share: the options to
 * reach a relay (TLS, LNK_AUTH keys, timeout) and one dial that returns an
 * Iocom, or a Router attached to the link.
 */
import type { Duplex } from 'node:stream';
import { Iocom } from '../iocom/iocom.ts';
import type { IocomOptions } from '../iocom/options.ts';
import { Router, type SpanInfo } from '../span/router.ts';
import { connectTcp, connectTls, connectUnix } from '../transport/index.ts';
import { DMSG_PEER } from '../wire/constants.ts';
import { readFileSync } from 'node:fs';
import { intOption, listOption, stringOption, UsageError, type OptionSpec, type OptionValues } from './command.ts';
import { formatEndpoint, parseEndpoint, type Endpoint } from './address.ts';
import { loadKeyPair, loadPublicKey } from './keys.ts';
import { dialFailure, LinkFailure, linkEndFailure, silentFailure, type LinkContext } from './link-failure.ts';

export const CLIENT_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'timeout-ms': { type: 'string', valueName: 'MS', description: 'give up connecting, authenticating or waiting for an answer after MS (default 5000)' },
  key: { type: 'string', valueName: 'FILE', description: 'Ed25519 private key (PEM) to prove to the relay' },
  'allow-key': { type: 'string', multiple: true, valueName: 'FILE', description: "the relay's Ed25519 public key (PEM) it must prove" },
  'tls-ca': { type: 'string', valueName: 'FILE', description: 'CA (PEM) to verify a TLS relay; bare HOST:PORT then uses TLS' },
  'tls-cert': { type: 'string', valueName: 'FILE', description: 'client certificate (PEM) for a relay that asks for one' },
  'tls-key': { type: 'string', valueName: 'FILE', description: 'private key (PEM) of --tls-cert' },
};

export interface ClientSettings {
  endpoint: Endpoint;
  timeoutMs: number;
  iocom: IocomOptions;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined;
}

function readOrUsage(file: string, flag: string, command: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, command);
  }
}

/** Parse the target and the client options. Throws UsageError. */
export function clientSettings(target: string | undefined, values: OptionValues, command: string): ClientSettings {
  if (target === undefined) throw new UsageError('missing relay address (HOST:PORT, tls:HOST:PORT or unix:/PATH)', command);
  const endpoint = parseEndpoint(target, 'connect', 'address', command);
  const timeoutMs = intOption(values, 'timeout-ms', 5000, 1, 600_000, command);
  // No keepalive pings of our own: a client command is short, answers the relay's
  // pings, and keeps its own deadlines; and its LNK_PING replies then answer only its ping() calls.
  const iocom: IocomOptions = { name: `dmsg ${command} ${target}`, authTimeoutMs: timeoutMs, pingIntervalMs: 0 };
  const key = stringOption(values, 'key', command);
  if (key !== undefined) iocom.keyPair = loadKeyPair(key, command);
  const allow = listOption(values, 'allow-key');
  if (allow.length > 0) iocom.allowedPeerKeys = allow.map((f) => loadPublicKey(f, command));
  const ca = stringOption(values, 'tls-ca', command);
  const cert = stringOption(values, 'tls-cert', command);
  const tkey = stringOption(values, 'tls-key', command);
  if ((cert === undefined) !== (tkey === undefined)) throw new UsageError('--tls-cert and --tls-key go together', command);
  let tls: ClientSettings['tls'];
  if (ca !== undefined || cert !== undefined) {
    tls = {};
    if (ca !== undefined) tls.ca = readOrUsage(ca, '--tls-ca', command);
    if (cert !== undefined && tkey !== undefined) {
      tls.cert = readOrUsage(cert, '--tls-cert', command);
      tls.key = readOrUsage(tkey, '--tls-key', command);
    }
  }
  return { endpoint, timeoutMs, iocom, tls };
}

/** The first bytes a peer sends (up to one header), kept to say what answered when a link fails. */
class FirstBytes {
  bytes = new Uint8Array(0);
  constructor(stream: Duplex) {
    const onData = (chunk: Uint8Array): void => {
      const n = Math.min(64 - this.bytes.length, chunk.length);
      const next = new Uint8Array(this.bytes.length + n);
      next.set(this.bytes);
      next.set(chunk.subarray(0, n), this.bytes.length);
      this.bytes = next;
      if (this.bytes.length >= 64) stream.off('data', onData);
    };
    stream.on('data', onData);
  }
}

/** A client's link: the Iocom plus what is needed to explain its failure. */
export interface ClientLink {
  readonly iocom: Iocom;
  /** Rejects with a LinkFailure (LINK_LOST, AUTH_REFUSED ...) when the link ends; never resolves. */
  readonly lost: Promise<never>;
  /** The failure to report for how the link ended (for errors seen elsewhere, e.g. a transaction's LOST_LINK). */
  failure(): LinkFailure | undefined;
}

function usesTls(s: ClientSettings): boolean {
  return s.endpoint.kind === 'tls' || (s.endpoint.kind === 'tcp' && !s.endpoint.explicit && s.tls !== undefined);
}

/** Connect the stream. Throws LinkFailure (exit 1) on failure. */
export async function dialStream(s: ClientSettings): Promise<Duplex> {
  const e = s.endpoint;
  try {
    if (e.kind === 'unix') return await connectUnix({ path: e.path, timeoutMs: s.timeoutMs });
    if (usesTls(s)) return await connectTls({ host: e.host, port: e.port, timeoutMs: s.timeoutMs, ...s.tls });
    return await connectTcp({ host: e.host, port: e.port, timeoutMs: s.timeoutMs });
  } catch (err) {
    throw dialFailure(err, contextOf(s, undefined, false));
  }
}

function contextOf(s: ClientSettings, first: Uint8Array | undefined, established: boolean): LinkContext {
  return { target: formatEndpoint(s.endpoint), tls: usesTls(s), haveKey: s.iocom.keyPair !== undefined, timeoutMs: s.timeoutMs, established, ...(first ? { firstBytes: first } : {}) };
}

/**
 * A new link whose peer has answered in DMSG: connected, authenticated if
 * keys were given, and one LNK_PING answered, all within --timeout-ms (a
 * real timer: it keeps the process alive). Throws LinkFailure saying what
 * failed (refused, TLS, authentication, not DMSG, timeout).
 */
export async function dialLink(s: ClientSettings, onIocom?: (iocom: Iocom) => void): Promise<ClientLink> {
  const stream = await dialStream(s);
  const first = new FirstBytes(stream);
  const iocom = new Iocom(stream, s.iocom);
  // Whoever handles the peer's messages (a Router) must see them from the first one on.
  onIocom?.(iocom);
  let established = false;
  let ended: LinkFailure | undefined;
  const lost = new Promise<never>((_, reject) => {
    iocom.closed$.subscribe((r) => {
      ended = linkEndFailure(r.kind === 'error' ? r.error : undefined, contextOf(s, first.bytes, established));
      reject(ended);
    });
  });
  lost.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(silentFailure(contextOf(s, first.bytes, false))), s.timeoutMs);
  });
  try {
    await Promise.race([iocom.ready.then(() => iocom.ping()), lost, deadline]);
    established = true;
  } catch (err) {
    iocom.destroy();
    // A ping refused because the link closed: report how it closed.
    throw err instanceof LinkFailure ? err : (ended ?? linkEndFailure(err as Error, contextOf(s, first.bytes, false)));
  } finally {
    clearTimeout(timer);
  }
  return { iocom, lost, failure: () => ended };
}

/** A ready Iocom on a new link (see dialLink). */
export async function dialIocom(s: ClientSettings): Promise<Iocom> {
  return (await dialLink(s)).iocom;
}

/** A Router (peer type CLIENT: it advertises nothing) attached to a new link, with the link. */
export async function dialRouter(s: ClientSettings, name: string): Promise<{ router: Router; link: ClientLink }> {
  const router = new Router({ name, peerType: DMSG_PEER.CLIENT });
  try {
    const link = await dialLink(s, (iocom) => router.attach(iocom));
    return { router, link };
  } catch (err) {
    await router.close();
    throw err;
  }
}

/**
 * `work` within `ms` (a real timer that keeps the process alive), failing
 * early with the link's failure if the link ends first.
 */
export async function withinDeadline<T>(work: Promise<T>, link: ClientLink, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, link.lost, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** `SERVICE[/INSTANCE]` of the command line. Throws UsageError. */
export function parseServiceTarget(text: string, command: string): { service: string; instance?: string } {
  const parts = text.split('/');
  if (parts.length > 2 || parts.some((p) => p === '')) throw new UsageError(`SERVICE ${JSON.stringify(text)}: expected SERVICE or SERVICE/INSTANCE`, command);
  return parts.length === 2 ? { service: parts[0]!, instance: parts[1]! } : { service: parts[0]! };
}

/** The nearest span of `service` (of `instance` if given): least dist, then instance name. Undefined if none. */
export function nearestSpan(spans: readonly SpanInfo[], service: string, instance?: string): SpanInfo | undefined {
  return spans
    .filter((s) => s.via !== null && s.service === service && (instance === undefined || s.instance === instance))
    .sort((a, b) => a.dist - b.dist || (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0))[0];
}

/** Resolves with the nearest span of `service` (of `instance`) once the router sees one. */
export function waitForNearest(router: Router, service: string, instance: string | undefined): Promise<SpanInfo> {
  return new Promise((resolve) => {
    const now = nearestSpan(router.spans(service), service, instance);
    if (now) return resolve(now);
    const sub = router.spans$.subscribe(() => {
      const s = nearestSpan(router.spans(service), service, instance);
      if (s) {
        sub.unsubscribe();
        resolve(s);
      }
    });
  });
}


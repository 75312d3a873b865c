/**
 * What the client commands (spans, ping, shell, call) share: the options to
 * reach a relay (TLS, LNK_AUTH keys, timeout) and one dial that returns an
 * Iocom, or a Router attached to the link.
 */
import type { Duplex } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { Iocom } from '../iocom/iocom.ts';
import type { IocomOptions } from '../iocom/options.ts';
import { Router } from '../span/router.ts';
import { connectTcp, connectTls, connectUnix } from '../transport/index.ts';
import { DMSG_PEER } from '../wire/constants.ts';
import { readFileSync } from 'node:fs';
import { CommandError, intOption, listOption, stringOption, UsageError, type OptionSpec, type OptionValues } from './command.ts';
import { formatEndpoint, parseEndpoint, type Endpoint } from './address.ts';
import { loadKeyPair, loadPublicKey } from './keys.ts';

export const CLIENT_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'timeout-ms': { type: 'string', valueName: 'MS', description: 'give up connecting (and authenticating) after MS (default 5000)' },
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
  const iocom: IocomOptions = { name: `dmsg ${command} ${target}`, authTimeoutMs: timeoutMs };
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

/** Connect the stream. Throws TransportError (exit 1) on failure. */
export async function dialStream(s: ClientSettings): Promise<Duplex> {
  const e = s.endpoint;
  if (e.kind === 'unix') return connectUnix({ path: e.path, timeoutMs: s.timeoutMs });
  if (e.kind === 'tls' || (!e.explicit && s.tls !== undefined)) return connectTls({ host: e.host, port: e.port, timeoutMs: s.timeoutMs, ...s.tls });
  return connectTcp({ host: e.host, port: e.port, timeoutMs: s.timeoutMs });
}

/** A ready Iocom on a new link (authenticated if keys were given). */
export async function dialIocom(s: ClientSettings): Promise<Iocom> {
  const stream = await dialStream(s);
  const iocom = new Iocom(stream, s.iocom);
  await readyOrFail(iocom, s);
  return iocom;
}

async function readyOrFail(iocom: Iocom, s: ClientSettings): Promise<void> {
  try {
    await Promise.race([iocom.ready, firstValueFrom(iocom.closed$).then((r) => { throw r.kind === 'error' ? r.error : new Error('link closed'); })]);
  } catch (err) {
    iocom.destroy();
    throw new CommandError('CONNECT_FAILED', `${formatEndpoint(s.endpoint)}: link failed: ${(err as Error).message}`, { cause: err });
  }
}

/** A Router (peer type CLIENT: it advertises nothing) attached to a new link. */
export async function dialRouter(s: ClientSettings, name: string): Promise<Router> {
  const iocom = await dialIocom(s);
  const router = new Router({ name, peerType: DMSG_PEER.CLIENT });
  router.attach(iocom);
  return router;
}

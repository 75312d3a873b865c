/** Pair factories for the compliance suite, one per transport. */
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import { connectTls, listenTls } from '../../src/transport/tls.ts';
import { connectUnix, listenUnix } from '../../src/transport/unix.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import type { TransportServer } from '../../src/transport/socket-server.ts';
import type { ConnectedPair, PairFactory } from './compliance.ts';

/** Destroy each stream that is not closed yet and wait for its 'close'. */
export async function destroyAndWait(...streams: Duplex[]): Promise<void> {
  await Promise.all(
    streams.map(async (s) => {
      if (s.closed) return;
      const closed = once(s, 'close');
      s.on('error', () => {}); // a reset during cleanup is expected
      s.destroy();
      await closed;
    }),
  );
}

export const memoryFactory: PairFactory = async ({ allowHalfOpen }) => {
  const [a, b] = memoryPair({ allowHalfOpen });
  return { a, b, cleanup: () => destroyAndWait(a, b) };
};

/** Accept exactly one connection from `server` while `dial()` runs. */
async function acceptOne<S extends Duplex>(
  listen: (onConnection: (s: S) => void) => Promise<TransportServer<unknown>>,
  dial: (server: TransportServer<unknown>) => Promise<Duplex>,
  onCleanup: () => void = () => {},
): Promise<ConnectedPair> {
  let accept!: (s: S) => void;
  const accepted = new Promise<S>((resolve) => (accept = resolve));
  const server = await listen((s) => accept(s));
  try {
    const [a, b] = await Promise.all([dial(server), accepted]);
    return {
      a,
      b,
      async cleanup() {
        await destroyAndWait(a, b);
        await server.close();
        onCleanup();
      },
    };
  } catch (err) {
    await server.close();
    onCleanup();
    throw err;
  }
}

export function tcpFactory(host: '127.0.0.1' | '::1'): PairFactory {
  return ({ allowHalfOpen }) =>
    acceptOne<net.Socket>(
      (onConnection) => listenTcp({ host, port: 0, allowHalfOpen }, onConnection),
      (server) => {
        const { port } = server.address() as { port: number };
        return connectTcp({ host, port, allowHalfOpen });
      },
    );
}

export const unixFactory: PairFactory = ({ allowHalfOpen }) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmsg-unix-'));
  const sock = path.join(dir, 'link.sock');
  return acceptOne<net.Socket>(
    (onConnection) => listenUnix({ path: sock, allowHalfOpen }, onConnection),
    () => connectUnix({ path: sock, allowHalfOpen }),
    () => rmSync(dir, { recursive: true, force: true }),
  );
};

export interface TestCert {
  readonly key: Buffer;
  readonly cert: Buffer;
}

/**
 * A self-signed certificate for localhost/127.0.0.1/::1 made with openssl in
 * a temp dir (node:crypto cannot make X.509 certificates). Returns a reason
 * string instead when openssl is missing or fails.
 */
export function makeSelfSignedCert(commonName = 'localhost'): TestCert | string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmsg-tls-'));
  try {
    const keyPath = path.join(dir, 'key.pem');
    const certPath = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${commonName}`,
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      ],
      { stdio: 'pipe', timeout: 10_000 },
    );
    return { key: readFileSync(keyPath), cert: readFileSync(certPath) };
  } catch (err) {
    return `openssl unavailable or failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function tlsFactory(cert: TestCert): PairFactory {
  return ({ allowHalfOpen }) =>
    acceptOne<Duplex>(
      (onConnection) =>
        listenTls({ host: '127.0.0.1', port: 0, key: cert.key, cert: cert.cert, allowHalfOpen }, onConnection),
      (server) => {
        const { port } = server.address() as { port: number };
        return connectTls({ host: '127.0.0.1', port, ca: cert.cert, allowHalfOpen });
      },
    );
}

/** Why IPv6 loopback cannot be used here, or undefined when it can. */
export async function ipv6Unavailable(): Promise<string | undefined> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '::1', port: 0 }, resolve);
    });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    if (server.listening) await new Promise((r) => server.close(r));
  }
}

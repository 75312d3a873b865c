/** Typed errors, signals and server lifecycle of tcp/unix/tls (the byte path is in the compliance suite). */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DmsgError } from '../../src/wire/errors.ts';
import { TransportError, isTransportError } from '../../src/transport/errors.ts';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import { connectTls, listenTls } from '../../src/transport/tls.ts';
import { connectUnix, listenUnix } from '../../src/transport/unix.ts';
import { destroyAndWait, makeSelfSignedCert } from './pairs.ts';

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toBeInstanceOf(DmsgError);
    return err as TransportError;
  }
  throw new Error('expected a rejection');
}

/** A free port nobody listens on (bound then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** A raw TCP server that accepts and says nothing (a TLS handshake to it never completes). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const socks = new Set<net.Socket>();
  const s = net.createServer((c) => socks.add(c));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    port: (s.address() as net.AddressInfo).port,
    close: async () => {
      for (const c of socks) c.destroy();
      await new Promise((r) => s.close(r));
    },
  };
}

describe('transport errors', () => {
  it('isTransportError is false for plain errors and other DmsgErrors', () => {
    expect(isTransportError(new Error('x'))).toBe(false);
    expect(isTransportError(new DmsgError('X', 'x'))).toBe(false);
    expect(isTransportError(new TransportError('ABORTED', 'x'))).toBe(true);
  });

  it('connect to a closed port: CONNECT_FAILED with the OS error as cause', async () => {
    const port = await closedPort();
    const err = await rejection(connectTcp({ host: '127.0.0.1', port }));
    expect(err.code).toBe('CONNECT_FAILED');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  it('invalid arguments reject with INVALID_ARGUMENT and say what came', async () => {
    expect((await rejection(connectTcp({ host: '127.0.0.1', port: 70000 }))).message).toMatch(
      /port must be an integer in \[0, 65535\], got 70000/,
    );
    expect((await rejection(connectTcp({ host: '', port: 1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(connectTcp({ host: '127.0.0.1', port: 0 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(connectTcp({ host: 'h', port: 1, signal: 'x' as never }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(listenTcp({ port: 1, noDelay: 1 as never }, () => {}))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(listenTls({ port: 0 }, () => {}))).message).toMatch(/needs key and cert/);
  });

  it('an already-aborted signal rejects with ABORTED before any socket is made', async () => {
    const ac = new AbortController();
    ac.abort(new Error('no thanks'));
    const err = await rejection(connectTcp({ host: '127.0.0.1', port: 9, signal: ac.signal }));
    expect(err.code).toBe('ABORTED');
    expect((err.cause as Error).message).toBe('no thanks');
    expect((await rejection(listenTcp({ signal: ac.signal }, () => {}))).code).toBe('ABORTED');
  });

  it('aborting a connect in progress rejects with ABORTED; timeoutMs rejects with TIMEOUT', async () => {
    const cert = makeSelfSignedCert();
    const silent = await silentServer();
    try {
      // A TLS handshake against a server that never answers stays pending.
      const ac = new AbortController();
      const pending = connectTls({ host: '127.0.0.1', port: silent.port, ca: typeof cert === 'string' ? [] : cert.cert, signal: ac.signal });
      ac.abort();
      expect((await rejection(pending)).code).toBe('ABORTED');
      const timedOut = await rejection(connectTls({ host: '127.0.0.1', port: silent.port, timeoutMs: 30 }));
      expect(timedOut.code).toBe('TIMEOUT');
    } finally {
      await silent.close();
    }
  });

  it('listening twice on a port: LISTEN_FAILED (EADDRINUSE)', async () => {
    const first = await listenTcp({ host: '127.0.0.1', port: 0 }, () => {});
    try {
      const err = await rejection(listenTcp({ host: '127.0.0.1', port: first.address().port }, () => {}));
      expect(err.code).toBe('LISTEN_FAILED');
      expect((err.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    } finally {
      await first.close();
    }
  });

  it('unix: missing path is CONNECT_FAILED; the socket file is removed on close', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dmsg-unix-'));
    try {
      const p = path.join(dir, 's.sock');
      expect((await rejection(connectUnix({ path: p }))).code).toBe('CONNECT_FAILED');
      const server = await listenUnix({ path: p }, () => {});
      expect(server.address()).toEqual({ transport: 'unix', path: p });
      await server.close();
      expect((await rejection(connectUnix({ path: p }))).code).toBe('CONNECT_FAILED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('server lifecycle', () => {
  it('address() reports the bound port and family; close() destroys open connections and is idempotent', async () => {
    const accepted: net.Socket[] = [];
    const server = await listenTcp({ port: 0 }, (s) => accepted.push(s));
    const addr = server.address();
    expect(addr).toMatchObject({ transport: 'tcp', host: '127.0.0.1', family: 'IPv4' });
    expect(addr.port).toBeGreaterThan(0);
    const client = await connectTcp({ host: '127.0.0.1', port: addr.port });
    client.on('error', () => {});
    client.resume();
    for (let i = 0; i < 100 && server.connections === 0; i++) await new Promise((r) => setImmediate(r));
    expect(server.connections).toBe(1);
    const clientClosed = once(client, 'close');
    const c1 = server.close();
    expect(server.close()).toBe(c1);
    await c1;
    await clientClosed;
    expect(server.connections).toBe(0);
    await destroyAndWait(client, ...accepted);
  });

  it('tls: a client refuses an untrusted certificate by default; mutual TLS works when configured', async (ctx) => {
    const cert = makeSelfSignedCert();
    if (typeof cert === 'string') {
      ctx.skip(cert);
      return;
    }
    const accepted: net.Socket[] = [];
    const errors: Error[] = [];
    const server = await listenTls(
      { port: 0, key: cert.key, cert: cert.cert, ca: cert.cert, requestCert: true, onError: (e) => errors.push(e) },
      (s) => accepted.push(s),
    );
    try {
      const { port } = server.address();
      const untrusted = await rejection(connectTls({ host: '127.0.0.1', port }));
      expect(untrusted.code).toBe('CONNECT_FAILED');
      expect((untrusted.cause as NodeJS.ErrnoException).code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      const client = await connectTls({ host: '127.0.0.1', port, ca: cert.cert, key: cert.key, cert: cert.cert });
      expect(client.authorized).toBe(true);
      const echoed = once(client, 'data');
      for (let i = 0; i < 100 && accepted.length === 0; i++) await new Promise((r) => setImmediate(r));
      accepted[0]!.write('hi');
      expect(String((await echoed)[0])).toBe('hi');
      expect((accepted[0] as import('node:tls').TLSSocket).authorized).toBe(true);
      await destroyAndWait(client, ...accepted);
    } finally {
      await server.close();
    }
  });
});

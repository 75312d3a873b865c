/** Listener limits that act before any protocol work: maxConnections, the TLS handshake deadline. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import { listenTls } from '../../src/transport/tls.ts';
import { makeSelfSignedCert } from './pairs.ts';

/** Resolves when the socket closes (the server dropped it); bounded by the test timeout. */
const closed = (s: net.Socket): Promise<void> => new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('listener limits', () => {
  it('maxConnections: a connection past it is closed at once; the ones accepted stay', async () => {
    const accepted: net.Socket[] = [];
    const errors: Error[] = [];
    const server = await listenTcp({ host: '127.0.0.1', port: 0, maxConnections: 2, onError: (e) => errors.push(e) }, (s) => accepted.push(s));
    const port = server.address().port;
    const clients: net.Socket[] = [];
    for (let i = 0; i < 2; i++) clients.push(await connectTcp({ host: '127.0.0.1', port }));
    while (accepted.length < 2) await new Promise((r) => setImmediate(r));
    const third = await connectTcp({ host: '127.0.0.1', port });
    third.on('error', () => {});
    await closed(third);
    expect(accepted).toHaveLength(2);
    expect(server.connections).toBe(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'CONNECTION_LIMIT' });
    // The accepted ones still carry bytes.
    const echoed = new Promise<string>((r) => clients[0]!.once('data', (b: Buffer) => r(b.toString())));
    accepted[0]!.write('still here');
    expect(await echoed).toBe('still here');
    for (const c of clients) c.destroy();
    await server.close();
    await expect(listenTcp({ host: '127.0.0.1', port: 0, maxConnections: 0 }, () => {})).rejects.toThrow(/maxConnections/);
  });

  const cert = makeSelfSignedCert();
  it.skipIf(typeof cert === 'string')('TLS: a client that never handshakes is dropped after handshakeTimeoutMs, and reported', async () => {
    const c = cert as Exclude<typeof cert, string>;
    const errors: Error[] = [];
    const server = await listenTls({ host: '127.0.0.1', port: 0, cert: c.cert, key: c.key, handshakeTimeoutMs: 300, onError: (e) => errors.push(e) }, () => {});
    const raw = net.connect(server.address().port, '127.0.0.1');
    raw.on('error', () => {});
    await closed(raw); // never sent a ClientHello
    expect(errors.some((e) => /timeout|ECONNRESET|handshake/i.test(e.message))).toBe(true);
    await server.close();
  });
});

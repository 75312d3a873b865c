/**
 * A man in the middle relaying a live LNK_AUTH handshake between two
 * connections: A dials M, M dials B, and M forwards every byte both ways,
 * decoding what passes. Over TLS (M holds a certificate A accepts, so TLS
 * alone does not stop it) the proofs are bound to each TLS session's
 * exporter and the relay fails. Over plain TCP there is no channel to bind:
 * the test records what M can do there (authentication of the endpoints
 * holds; the session is M's to read and to take over), as docs/auth.md says.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { startRelay } from '../../src/cli/relay-daemon.ts';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { keyFingerprint, rawPublicKey } from '../../src/iocom/auth.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import type { IocomOptions } from '../../src/iocom/options.ts';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import { connectTls, listenTls } from '../../src/transport/tls.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import type { Message } from '../../src/wire/message.ts';
import { makeSelfSignedCert } from '../transport/pairs.ts';
import { authFailure, authPhases, startMitm } from './auth-attack-kit.ts';

const kA = generateKeyPairSync('ed25519');
const kB = generateKeyPairSync('ed25519');
const QUIET: IocomOptions = { pingIntervalMs: 0, linkTimeoutMs: 0, authTimeoutMs: 20_000 };
const A_OPTS: IocomOptions = { ...QUIET, name: 'A', keyPair: kA, allowedPeerKeys: [kB.publicKey] };
const B_OPTS: IocomOptions = { ...QUIET, name: 'B', keyPair: kB, allowedPeerKeys: [kA.publicKey] };
const cert = makeSelfSignedCert();

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** B listening (TLS with `tls`, else TCP); its links answer DBG_SHELL transactions and keep one-way messages. */
async function startB(tls?: { key: Buffer; cert: Buffer }): Promise<{ port: number; links: Iocom[]; oneWay: Message[]; next: () => Promise<Iocom>; oneWayCount: (n: number) => Promise<void> }> {
  const links: Iocom[] = [];
  const oneWay: Message[] = [];
  const waiters: Array<(io: Iocom) => void> = [];
  const countWaiters: Array<{ n: number; resolve: () => void }> = [];
  const onConn = (s: import('node:stream').Duplex): void => {
    const io = new Iocom(s, B_OPTS);
    io.transactions$.subscribe((tx) => tx.rx$.subscribe({ complete: () => tx.reply(0), error: () => {} }));
    io.messages$.subscribe((m) => {
      oneWay.push({ ...m, aux: new Uint8Array(m.aux) });
      for (const w of countWaiters.filter((x) => oneWay.length >= x.n)) {
        countWaiters.splice(countWaiters.indexOf(w), 1);
        w.resolve();
      }
    });
    links.push(io);
    waiters.shift()?.(io);
  };
  const server = tls ? await listenTls({ host: '127.0.0.1', port: 0, ...tls }, onConn) : await listenTcp({ host: '127.0.0.1', port: 0 }, onConn);
  cleanup.push(async () => {
    for (const l of links) l.destroy();
    await server.close();
  });
  return {
    port: server.address().port,
    links,
    oneWay,
    next: () => (links.length > 0 ? Promise.resolve(links[links.length - 1]!) : new Promise<Iocom>((r) => waiters.push(r))),
    oneWayCount: (n) => (oneWay.length >= n ? Promise.resolve() : new Promise<void>((resolve) => countWaiters.push({ n, resolve }))),
  };
}

function nonAuth(msgs: readonly Message[]): Message[] {
  return msgs.filter((m) => (m.header.cmd & DMSGF.BASECMDMASK) !== DMSG.LNK_AUTH);
}

const text = (m: Message): string => new TextDecoder().decode(m.aux);

describe.skipIf(typeof cert === 'string')('LNK_AUTH relayed by a man in the middle over TLS (channel binding)', () => {
  const tls = cert as { key: Buffer; cert: Buffer };

  it('control: A and B over one TLS connection authenticate (both ends derive the same exporter)', async () => {
    const b = await startB(tls);
    const a = new Iocom(await connectTls({ host: '127.0.0.1', port: b.port, ca: tls.cert }), A_OPTS);
    cleanup.push(() => a.destroy());
    const bio = await b.next();
    await Promise.all([a.ready, bio.ready]);
    expect(new Uint8Array(a.peerKey!)).toEqual(rawPublicKey(kB.publicKey));
    expect(new Uint8Array(bio.peerKey!)).toEqual(rawPublicKey(kA.publicKey));
  });

  it('control: two relays (startRelay) over TLS with keys link and verify each other (roles from listener and dialler, exporter bound)', async () => {
    const ka = generateKeyPairSync('ed25519');
    const kb = generateKeyPairSync('ed25519');
    const logA: string[] = [];
    const logB: string[] = [];
    const verified = (log: string[], key: KeyObject): boolean => log.some((l) => l.includes(`peer key ${keyFingerprint(rawPublicKey(key))} verified`));
    let onLine = (): void => {};
    const bothVerified = new Promise<void>((resolve) => {
      onLine = () => { if (verified(logA, kb.publicKey) && verified(logB, ka.publicKey)) resolve(); };
    });
    const into = (log: string[]) => (line: string): void => { log.push(line); onLine(); };
    const files = { cert: tls.cert, key: tls.key, ca: tls.cert };
    const a = await startRelay({ name: 'a', listen: ['127.0.0.1:0'], tls: files, keyPair: ka, allowedPeerKeys: [kb.publicKey], log: into(logA) });
    cleanup.push(() => a.stop());
    const b = await startRelay({ name: 'b', connect: [a.addresses[0]!], tls: files, keyPair: kb, allowedPeerKeys: [ka.publicKey], log: into(logB) });
    cleanup.push(() => b.stop());
    expect(a.addresses[0]).toMatch(/^tls:/);
    await bothVerified;
    expect(logA.concat(logB).filter((l) => /AUTH_FAILED|does not verify|claim the role/.test(l))).toEqual([]);
  });

  it('over TLS, an end told to bind nothing (channelBinding: null) and one binding the exporter refuse each other by name', async () => {
    const b = await startB(tls);
    const a = new Iocom(await connectTls({ host: '127.0.0.1', port: b.port, ca: tls.cert }), { ...A_OPTS, channelBinding: null });
    cleanup.push(() => a.destroy());
    const bio = await b.next();
    const reasons = await Promise.all([firstValueFrom(a.closed$), firstValueFrom(bio.closed$)]);
    // Whichever end reads the other's HELLO first names the mismatch and closes; the other may only see the close.
    const named = reasons.filter((r) => r.kind === 'error').map((r) => authFailure(r).message);
    expect(named.length).toBeGreaterThan(0);
    for (const m of named) expect(m).toMatch(/peer binds its proof to a TLS channel but this end has none|this end binds proofs to its TLS channel but the peer does not/);
    await expect(a.ready).rejects.toThrow();
    await expect(bio.ready).rejects.toThrow();
  });

  it('M relays HELLOs and PROOFs between A–M and M–B: A refuses B\'s proof, never signs, and nothing but AUTH crosses', async () => {
    const b = await startB(tls);
    const m = await startMitm({ tls, targetPort: b.port });
    cleanup.push(() => m.close());
    const a = new Iocom(await connectTls({ host: '127.0.0.1', port: m.port, ca: tls.cert }), A_OPTS);
    cleanup.push(() => a.destroy());
    a.open(DMSG.DBG_SHELL, { aux: new TextEncoder().encode('secret from A\0') }); // held until authenticated
    const flow = await m.nextFlow();
    const bio = await b.next();
    const f = authFailure(await firstValueFrom(a.closed$));
    expect(f.code).toBe('AUTH_FAILED');
    expect(f.message).toMatch(/signature does not verify .*bound to this TLS channel/);
    await expect(a.ready).rejects.toThrow();
    await expect(bio.ready).rejects.toThrow(); // B's link ends (M drops it) unauthenticated
    expect(a.peerKey).toBeUndefined();
    expect(bio.peerKey).toBeUndefined();
    await firstValueFrom(bio.closed$);
    // A sent its HELLO only; B its HELLO and proof; no other message either way.
    expect(authPhases(flow.aToB)).toEqual([1]);
    expect(authPhases(flow.bToA)).toEqual([1, 2]);
    expect(nonAuth(flow.aToB)).toEqual([]);
    expect(nonAuth(flow.bToA)).toEqual([]);
  });
});

describe('LNK_AUTH relayed by a man in the middle over plain TCP (no channel to bind)', () => {
  it('documented limit: both ends authenticate each other through M, and M can read the session and take it over', async () => {
    const b = await startB();
    const m = await startMitm({ targetPort: b.port });
    cleanup.push(() => m.close());
    const a = new Iocom(await connectTcp({ host: '127.0.0.1', port: m.port }), A_OPTS);
    cleanup.push(() => a.destroy());
    const flow = await m.nextFlow();
    const bio = await b.next();
    await Promise.all([a.ready, bio.ready]);
    // Endpoint authentication holds: each side verified the other's real key (M holds neither).
    expect(new Uint8Array(a.peerKey!)).toEqual(rawPublicKey(kB.publicKey));
    expect(new Uint8Array(bio.peerKey!)).toEqual(rawPublicKey(kA.publicKey));
    // But nothing is encrypted: M reads what A sends.
    a.sendOneWay(DMSG.DBG_SHELL, { aux: new TextEncoder().encode('secret from A\0') });
    await b.oneWayCount(1);
    expect(nonAuth(flow.aToB).map(text)).toContain('secret from A\0');
    // And M can take over A's direction: it stops forwarding and sends its own message, numbered after A's.
    flow.forwardAToB = false;
    const seq = flow.aToB.length & 0xff;
    flow.b.write(concatBytes(encodeMessage({ header: { cmd: DMSG.DBG_SHELL, salt: seq }, aux: new TextEncoder().encode('injected by M\0') })));
    await b.oneWayCount(2);
    // B takes it as coming from the authenticated A: without TLS, LNK_AUTH authenticates the endpoint, not the channel.
    expect(b.oneWay.map(text)).toEqual(['secret from A\0', 'injected by M\0']);
    expect(bio.isOpen).toBe(true);
  });
});

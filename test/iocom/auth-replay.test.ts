/**
 * Replay of a recorded LNK_AUTH handshake onto a new connection, over real
 * TCP on 127.0.0.1. A recording proxy sits on a genuine, successful session
 * between A (dials, key kA) and B (accepts, key kB), each requiring the
 * other's key. The attacker, holding no key, then plays the recorded bytes
 * of one side to the other on a fresh connection. The fresh nonce of the new
 * connection makes every recorded proof fail.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { Iocom } from '../../src/iocom/iocom.ts';
import type { IocomOptions } from '../../src/iocom/options.ts';
import { connectTcp, listenTcp, type TcpServer } from '../../src/transport/tcp.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { RawPeer } from '../helpers/raw-peer.ts';
import { authFailure, authPhases, startMitm, type Mitm } from './auth-attack-kit.ts';

const kA = generateKeyPairSync('ed25519');
const kB = generateKeyPairSync('ed25519');
const QUIET: IocomOptions = { pingIntervalMs: 0, linkTimeoutMs: 0, authTimeoutMs: 20_000 };
const A_OPTS: IocomOptions = { ...QUIET, name: 'A', keyPair: kA, allowedPeerKeys: [kB.publicKey] };
const B_OPTS: IocomOptions = { ...QUIET, name: 'B', keyPair: kB, allowedPeerKeys: [kA.publicKey] };

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** B: a TCP server whose every accepted link is an Iocom with B's keys that answers DBG_SHELL transactions. */
async function serverB(): Promise<{ server: TcpServer; links: Iocom[] }> {
  const links: Iocom[] = [];
  const server = await listenTcp({ host: '127.0.0.1', port: 0 }, (s) => {
    const io = new Iocom(s, B_OPTS);
    io.transactions$.subscribe((tx) => tx.rx$.subscribe({ complete: () => tx.reply(0), error: () => {} }));
    links.push(io);
  });
  cleanup.push(async () => {
    for (const l of links) l.destroy();
    await server.close();
  });
  return { server, links };
}

async function shellRoundTrip(io: Iocom): Promise<void> {
  const tx = io.open(DMSG.DBG_SHELL, { delete: true, aux: new TextEncoder().encode('tree\0') });
  await new Promise<void>((resolve, reject) => tx.rx$.subscribe({ complete: resolve, error: reject }));
}

/** A genuine A–B session through a recording proxy; returns what the proxy saw. */
async function recordSession(bPort: number): Promise<{ aToB: Uint8Array; bToA: Uint8Array; mitm: Mitm }> {
  const mitm = await startMitm({ targetPort: bPort });
  cleanup.push(() => mitm.close());
  const a = new Iocom(await connectTcp({ host: '127.0.0.1', port: mitm.port }), A_OPTS);
  cleanup.push(() => a.destroy());
  await a.ready;
  await shellRoundTrip(a);
  const flow = (await Promise.all([mitm.nextFlow()]))[0]!;
  // The recorded session really authenticated both ways.
  expect(authPhases(flow.aToB)).toEqual([1, 2]);
  expect(authPhases(flow.bToA)).toEqual([1, 2]);
  a.destroy();
  return { aToB: Buffer.concat(flow.rawAToB), bToA: Buffer.concat(flow.rawBToA), mitm };
}

function onlyAuth(peer: RawPeer): number[] {
  const cmds = peer.received.map((m) => m.header.cmd & DMSGF.BASECMDMASK);
  expect(cmds.filter((c) => c !== DMSG.LNK_AUTH)).toEqual([]);
  return authPhases(peer.received);
}

async function closedStream(s: Duplex): Promise<void> {
  if (!s.closed) await new Promise((r) => s.once('close', r));
}

describe('LNK_AUTH replay of a recorded handshake (TCP, keyless attacker)', () => {
  it("A's recorded bytes played to B on a new connection: B refuses with AUTH_FAILED, serves nothing", async () => {
    const b = await serverB();
    const rec = await recordSession(b.server.address().port);
    const before = b.links.length;
    const attacker = await connectTcp({ host: '127.0.0.1', port: b.server.address().port });
    cleanup.push(() => attacker.destroy());
    const peer = new RawPeer(attacker);
    peer.writeRaw(rec.aToB); // HELLO, PROOF, then the DBG_SHELL transaction, as A sent them
    await peer.until(() => b.links.length > before, 'B accepted');
    const victim = b.links[before]!;
    let served = 0;
    victim.transactions$.subscribe(() => served++);
    const f = authFailure(await firstValueFrom(victim.closed$));
    expect(f.code).toBe('AUTH_FAILED');
    expect(f.message).toMatch(/signature does not verify/);
    expect(victim.peerKey).toBeUndefined();
    await expect(victim.ready).rejects.toThrow(/AUTH_FAILED|signature/);
    await closedStream(attacker);
    expect(served).toBe(0);
    // B sent its HELLO and at most (as the responder) its proof for the new nonce (dropped if B failed
    // in the same read), nothing else.
    const phases = onlyAuth(peer);
    expect(phases[0]).toBe(1);
    expect([[1], [1, 2]]).toContainEqual(phases);
  });

  it("B's recorded bytes played to A when A dials the attacker: A refuses and never signs", async () => {
    const b = await serverB();
    const rec = await recordSession(b.server.address().port);
    let accepted!: (s: Duplex) => void;
    const got = new Promise<Duplex>((r) => (accepted = r));
    const fake = await listenTcp({ host: '127.0.0.1', port: 0 }, (s) => accepted(s));
    cleanup.push(() => fake.close());
    const a = new Iocom(await connectTcp({ host: '127.0.0.1', port: fake.address().port }), A_OPTS);
    cleanup.push(() => a.destroy());
    const stream = await got;
    const peer = new RawPeer(stream);
    cleanup.push(() => stream.destroy());
    peer.writeRaw(rec.bToA); // B's HELLO and PROOF (and its replies), recorded
    const f = authFailure(await firstValueFrom(a.closed$));
    expect(f.code).toBe('AUTH_FAILED');
    expect(f.message).toMatch(/signature does not verify/);
    await expect(a.ready).rejects.toThrow();
    await closedStream(stream);
    // The initiator proves only after the responder's proof verified: the attacker got A's HELLO only.
    expect(onlyAuth(peer)).toEqual([1]);
  });
});

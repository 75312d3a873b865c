import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { rawPublicKey } from '../../src/iocom/auth.ts';
import { Iocom } from '../../src/iocom/iocom.ts';
import type { IocomOptions } from '../../src/iocom/options.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { InvalidArgumentError, ProtocolError } from '../../src/wire/errors.ts';
import { createMemoryLink } from '../../src/transport/memory.ts';
import { iocomPair, type PairKind } from '../helpers/iocom-pair.ts';
import { rawLink, reasonCode } from '../helpers/raw-peer.ts';

const keys = (): { privateKey: KeyObject; publicKey: KeyObject } => generateKeyPairSync('ed25519');
const kA = keys();
const kB = keys();
const kC = keys();
const KINDS: readonly PairKind[] = ['memory', 'tcp'];

function serve(io: Iocom): void {
  io.transactions$.subscribe((tx) => tx.rx$.subscribe({ complete: () => tx.reply(0), error: () => {} }));
}
async function roundTrip(from: Iocom): Promise<void> {
  const tx = from.open(DMSG.DBG_SHELL, { delete: true });
  const msgs: number[] = [];
  await new Promise<void>((resolve, reject) => tx.rx$.subscribe({ next: (m) => msgs.push(m.header.error), complete: resolve, error: reject }));
  expect(msgs).toEqual([0]);
}
async function failure(io: Iocom): Promise<ProtocolError> {
  const r = await firstValueFrom(io.closed$);
  expect(r.kind).toBe('error');
  const e = (r as { error: Error }).error;
  expect(e).toBeInstanceOf(ProtocolError);
  return e as ProtocolError;
}

/** A v2 HELLO from the raw peer, the responder (the iocom under test dialled): ext[32..63] is the nonce (ext = bytes after the base header). */
function authHello(ext: Uint8Array, flags: number, nonce: Uint8Array): Uint8Array {
  ext.set([0x44, 0x4d, 0x41, 0x55, 2, 1, flags, 2]);
  ext.set(nonce, 32);
  return ext;
}

/** The bytes a v2 PROOF signs, written out as documented in auth.ts (verifier without a key, no channel binding). */
function documentedTranscript(signerRole: number, signerKey: Uint8Array, signerNonce: Uint8Array, verifierNonce: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('dmsg-mesh LNK_AUTH v2 proof\0'), Buffer.from([signerRole]), signerKey, Buffer.from([0]), Buffer.alloc(32), signerNonce, verifierNonce, Buffer.from([0])]);
}

describe.each(KINDS)('LNK_AUTH over %s', (kind) => {
  it('both sides require each other\'s key: right keys authenticate, ready resolves, peerKey is set', async () => {
    const p = await iocomPair(kind, { keyPair: kA, allowedPeerKeys: [kB.publicKey] }, { keyPair: kB, allowedPeerKeys: [kA.publicKey] });
    serve(p.a);
    serve(p.b);
    await Promise.all([p.a.ready, p.b.ready]);
    expect(new Uint8Array(p.a.peerKey!)).toEqual(new Uint8Array(rawPublicKey(kB.publicKey)));
    expect(new Uint8Array(p.b.peerKey!)).toEqual(new Uint8Array(rawPublicKey(kA.publicKey)));
    await roundTrip(p.a);
    await roundTrip(p.b);
    expect(p.a.stats().timers).toBe(0); // the auth timer is gone
    await p.close();
  });

  it('one-sided: a requires b\'s key, b only has one', async () => {
    const p = await iocomPair(kind, { allowedPeerKeys: [kB.publicKey] }, { keyPair: kB });
    serve(p.a);
    serve(p.b);
    await Promise.all([p.a.ready, p.b.ready]);
    expect(new Uint8Array(p.a.peerKey!)).toEqual(new Uint8Array(rawPublicKey(kB.publicKey)));
    expect(p.b.peerKey).toBeUndefined();
    await roundTrip(p.a);
    await roundTrip(p.b);
    await p.close();
  });

  it('messages opened before authentication wait and go out after it', async () => {
    const p = await iocomPair(kind, { keyPair: kA, allowedPeerKeys: [kB.publicKey] }, { keyPair: kB, allowedPeerKeys: [kA.publicKey] });
    serve(p.b);
    await roundTrip(p.a); // opened at once, before ready
    await p.close();
  });

  it('wrong key: AUTH_FAILED naming the key; ready rejects', async () => {
    const p = await iocomPair(kind, { allowedPeerKeys: [kB.publicKey] }, { keyPair: kC });
    const e = await failure(p.a);
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toMatch(/peer key [0-9a-f]{16} is not among the 1 allowed keys/);
    await expect(p.a.ready).rejects.toBe(e);
    await p.close();
  });

  it('no key: AUTH_FAILED "peer presented no key"', async () => {
    const p = await iocomPair(kind, { keyPair: kA, allowedPeerKeys: [kB.publicKey] }, { allowedPeerKeys: [kA.publicKey] });
    const e = await failure(p.a);
    expect(e.code).toBe('AUTH_FAILED');
    expect(e.message).toMatch(/peer presented no key/);
    await expect(p.a.ready).rejects.toBeInstanceOf(ProtocolError);
    await p.close();
  });

  it('a forged proof (right public key, signed with another key): AUTH_FAILED "does not verify"', async () => {
    const l = await rawLink(kind, { allowedPeerKeys: [kB.publicKey] });
    const [hello] = await l.peer.waitFor(1);
    expect(hello!.header.cmd).toBe(DMSG.LNK_AUTH);
    const ioChallenge = new Uint8Array(hello!.ext.subarray(32, 64));
    const myChallenge = new Uint8Array(32).fill(9);
    const pub = rawPublicKey(kB.publicKey);
    l.peer.send({ cmd: DMSG.LNK_AUTH }, authHello(new Uint8Array(64), 1, myChallenge), pub);
    const signed = documentedTranscript(2, pub, myChallenge, ioChallenge);
    const proof = new Uint8Array(64);
    proof.set([0x44, 0x4d, 0x41, 0x55, 2, 2, 1, 2]);
    l.peer.send({ cmd: DMSG.LNK_AUTH }, proof, new Uint8Array(sign(null, signed, kC.privateKey)));
    const r = await l.closed;
    expect(reasonCode(r)).toBe('AUTH_FAILED');
    expect((r as { error: Error }).error.message).toMatch(/signature does not verify/);
    await l.close();
  });

  it('a correct proof made by hand is accepted (the signed bytes are as documented)', async () => {
    const l = await rawLink(kind, { allowedPeerKeys: [kB.publicKey] });
    serve(l.io);
    const [hello] = await l.peer.waitFor(1);
    const ioChallenge = new Uint8Array(hello!.ext.subarray(32, 64));
    expect([...hello!.ext.subarray(0, 8)]).toEqual([0x44, 0x4d, 0x41, 0x55, 2, 1, 2, 1]); // v2 HELLO: requires, has no key, role initiator
    const myChallenge = new Uint8Array(32).fill(3);
    const pub = rawPublicKey(kB.publicKey);
    l.peer.send({ cmd: DMSG.LNK_AUTH }, authHello(new Uint8Array(64), 1, myChallenge), pub);
    const proof = new Uint8Array(64);
    proof.set([0x44, 0x4d, 0x41, 0x55, 2, 2, 1, 2]);
    l.peer.send({ cmd: DMSG.LNK_AUTH }, proof, new Uint8Array(sign(null, documentedTranscript(2, pub, myChallenge, ioChallenge), kB.privateKey)));
    await l.io.ready;
    l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE | DMSGF.DELETE, msgid: 1n });
    await l.peer.until(() => l.peer.received.some((m) => m.header.msgid === 1n), 'reply');
    expect(l.io.isOpen).toBe(true);
    await l.close();
  });

  it('a peer that sends a command before authenticating: AUTH_REQUIRED', async () => {
    const l = await rawLink(kind, { allowedPeerKeys: [kB.publicKey] });
    l.peer.send({ cmd: DMSG.LNK_PAD }); // PAD is tolerated
    l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE, msgid: 1n });
    const r = await l.closed;
    expect(reasonCode(r)).toBe('AUTH_REQUIRED');
    await expect(l.io.ready).rejects.toBeInstanceOf(ProtocolError);
    await l.close();
  });

  it('with no keys configured the link runs open: ready at once, and no LNK_AUTH on the wire', async () => {
    const l = await rawLink(kind);
    await l.io.ready;
    serve(l.io);
    l.io.open(DMSG.DBG_SHELL);
    l.io.sendOneWay(DMSG.DBG_SHELL);
    l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE | DMSGF.DELETE, msgid: 1n });
    await l.peer.roundTrip();
    const cmds = l.peer.received.map((m) => m.header.cmd & DMSGF.BASECMDMASK);
    expect(cmds.length).toBeGreaterThanOrEqual(4);
    expect(cmds).not.toContain(DMSG.LNK_AUTH);
    // Byte check too: no header in the raw stream carries the LNK_AUTH command.
    const raw = Buffer.concat(l.peer.bytes);
    for (let o = 0; o < raw.length; o += 64) expect(raw.readUInt32LE(o + 0x20) & DMSGF.BASECMDMASK).not.toBe(DMSG.LNK_AUTH);
    await l.close();
  });

  it('a key-holder talking to a plain peer (no LNK_AUTH support) works once the peer sends anything', async () => {
    const l = await rawLink(kind, { keyPair: kA });
    serve(l.io);
    l.io.open(DMSG.DBG_SHELL); // held until we know the peer does not ask for proof
    const [hello] = await l.peer.waitFor(1);
    expect(hello!.header.cmd).toBe(DMSG.LNK_AUTH);
    l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE | DMSGF.DELETE, msgid: 1n });
    await l.io.ready;
    await l.peer.roundTrip();
    const cmds = l.peer.received.map((m) => (m.header.cmd & ~DMSGF.REVTRANS) >>> 0);
    expect(cmds).toContain((DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0);
    await l.close();
  });
});

describe('LNK_AUTH timeouts and close (fake timers)', () => {
  it('auth timeout: a peer that never authenticates gets AUTH_FAILED after authTimeoutMs; ready rejects', async () => {
    vi.useFakeTimers();
    try {
      const l = await rawLink('memory', { allowedPeerKeys: [kB.publicKey], authTimeoutMs: 2000 });
      let rejected: unknown;
      l.io.ready.catch((e: unknown) => (rejected = e));
      await vi.advanceTimersByTimeAsync(1999);
      expect(l.io.isOpen).toBe(true);
      expect(rejected).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      const r = await l.closed;
      expect(reasonCode(r)).toBe('AUTH_FAILED');
      expect((r as { error: Error }).error.message).toMatch(/did not authenticate within 2000 ms/);
      expect(rejected).toBeInstanceOf(ProtocolError);
      expect(vi.getTimerCount()).toBe(0);
      await l.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a key-holder whose peer stays silent becomes ready when the auth timer runs out (the peer asks nothing)', async () => {
    vi.useFakeTimers();
    try {
      const l = await rawLink('memory', { keyPair: kA, authTimeoutMs: 1000 });
      let ready = false;
      void l.io.ready.then(() => (ready = true));
      l.io.sendOneWay(DMSG.DBG_SHELL);
      await vi.advanceTimersByTimeAsync(999);
      expect(ready).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(ready).toBe(true);
      await l.peer.waitFor(2);
      expect(l.peer.received.map((m) => m.header.cmd)).toEqual([DMSG.LNK_AUTH, DMSG.DBG_SHELL]);
      await l.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('a keepalive PING that crosses a slow handshake does not kill it: PING before authentication is tolerated, not answered', async () => {
    vi.useFakeTimers();
    try {
      const link = createMemoryLink();
      link.pause('bToA'); // the responder's HELLO and PROOF are held up on the way back
      const a = new Iocom(link.a, { name: 'a', keyPair: kA, allowedPeerKeys: [kB.publicKey], pingIntervalMs: 100, linkTimeoutMs: 10_000 });
      const b = new Iocom(link.b, { name: 'b', keyPair: kB, allowedPeerKeys: [kA.publicKey], pingIntervalMs: 100, linkTimeoutMs: 10_000 });
      serve(b);
      await vi.advanceTimersByTimeAsync(350); // a hears nothing: its keepalive sends PINGs, which b reads before a proved anything
      expect(a.isOpen && b.isOpen).toBe(true);
      link.resume();
      await vi.advanceTimersByTimeAsync(10);
      await Promise.all([a.ready, b.ready]);
      expect(a.peerKey).toBeDefined();
      expect(b.peerKey).toBeDefined();
      a.destroy();
      b.destroy();
    } finally {
      vi.useRealTimers();
    }
  });

  it('close() before the peer is verified does not send the held messages to it (regression)', async () => {
    const opts: IocomOptions = { allowedPeerKeys: [kB.publicKey] };
    const l = await rawLink('memory', opts);
    l.io.open(DMSG.DBG_SHELL, { aux: new TextEncoder().encode('secret') });
    l.io.sendOneWay(DMSG.DBG_SHELL);
    const closing = l.io.close();
    await l.peer.until(() => l.peer.stream.readableEnded || l.peer.received.length >= 1);
    l.peer.stream.end();
    await closing;
    expect(l.peer.received.map((m) => m.header.cmd)).toEqual([DMSG.LNK_AUTH]);
    await l.close();
  });
});

describe('LNK_AUTH v2 wiring in the iocom', () => {
  it('the role comes from the transport; a role option overrides it, and two initiators refuse each other', async () => {
    const p = await iocomPair('memory', { keyPair: kA, allowedPeerKeys: [kB.publicKey], role: 'initiator' }, { keyPair: kB, allowedPeerKeys: [kA.publicKey], role: 'initiator' });
    const [ea, eb] = await Promise.all([failure(p.a), failure(p.b)]);
    for (const e of [ea, eb]) {
      expect(e.code).toBe('AUTH_FAILED');
      expect(e.message).toMatch(/both ends claim the role initiator/);
    }
    await p.close();
  });

  it('keys on a stream no transport marked need an explicit role (InvalidArgumentError); options are validated', () => {
    expect(() => new Iocom(new PassThrough(), { keyPair: kA })).toThrow(InvalidArgumentError);
    expect(() => new Iocom(new PassThrough(), { allowedPeerKeys: [kA.publicKey] })).toThrow(/needs the link's role/);
    const io = new Iocom(new PassThrough(), { keyPair: kA, role: 'responder', pingIntervalMs: 0, linkTimeoutMs: 0 });
    io.destroy();
    const plain = new Iocom(new PassThrough(), { pingIntervalMs: 0, linkTimeoutMs: 0 }); // no keys: no role needed
    plain.destroy();
    expect(() => new Iocom(new PassThrough(), { role: 'dialler' as 'initiator' })).toThrow(/role must be 'initiator' or 'responder'/);
    expect(() => new Iocom(new PassThrough(), { channelBinding: new Uint8Array(0) })).toThrow(/channelBinding must be null or a Uint8Array of 1 to 255 bytes/);
  });

  it('a version-1 peer is refused with a clear AUTH_FAILED', async () => {
    const l = await rawLink('tcp', { allowedPeerKeys: [kB.publicKey] });
    await l.peer.waitFor(1);
    const v1 = new Uint8Array(64);
    v1.set([0x44, 0x4d, 0x41, 0x55, 1, 1, 1]);
    l.peer.send({ cmd: DMSG.LNK_AUTH }, v1, rawPublicKey(kB.publicKey));
    const r = await l.closed;
    expect(reasonCode(r)).toBe('AUTH_FAILED');
    expect((r as { error: Error }).error.message).toMatch(/peer speaks LNK_AUTH version 1/);
    await l.close();
  });

  it('a node without keys ignores a peer\'s LNK_AUTH and stays open, sending none', async () => {
    const l = await rawLink('tcp');
    serve(l.io);
    const hello = new Uint8Array(64);
    hello.set([0x44, 0x4d, 0x41, 0x55, 2, 1, 3, 2]);
    l.peer.send({ cmd: DMSG.LNK_AUTH }, hello, rawPublicKey(kB.publicKey));
    l.peer.send({ cmd: DMSG.LNK_AUTH }, new Uint8Array(64).fill(0xee)); // junk too
    l.peer.send({ cmd: DMSG.DBG_SHELL | DMSGF.CREATE | DMSGF.DELETE, msgid: 1n });
    await l.peer.until(() => l.peer.received.some((m) => m.header.msgid === 1n), 'reply');
    await l.peer.roundTrip();
    expect(l.io.isOpen).toBe(true);
    expect(l.peer.received.map((m) => m.header.cmd & DMSGF.BASECMDMASK)).not.toContain(DMSG.LNK_AUTH);
    await l.close();
  });

  it('an explicit channelBinding: the same bytes on both ends authenticate, different bytes do not', async () => {
    const same = await iocomPair('tcp', { keyPair: kA, allowedPeerKeys: [kB.publicKey], channelBinding: new Uint8Array(16).fill(4) }, { keyPair: kB, allowedPeerKeys: [kA.publicKey], channelBinding: new Uint8Array(16).fill(4) });
    await Promise.all([same.a.ready, same.b.ready]);
    await same.close();
    const other = await iocomPair('tcp', { keyPair: kA, allowedPeerKeys: [kB.publicKey], channelBinding: new Uint8Array(16).fill(4) }, { keyPair: kB, allowedPeerKeys: [kA.publicKey], channelBinding: new Uint8Array(16).fill(5) });
    const e = await failure(other.a); // the initiator checks the responder's proof first
    expect(e.message).toMatch(/signature does not verify/);
    await other.close();
  });
});

/**
 * The LNK_AUTH v2 state machine on its own (no streams): the order in which
 * proofs go out, what is refused at HELLO, the signed transcript, and a
 * property: a keyless attacker that mixes and forwards everything honest
 * handshakes give out never gets a proof to verify, in the two settings
 * auth.ts claims (every victim accepted the attacker's connection; or every
 * connection has its own channel binding, as TLS gives).
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUTH_CONTEXT, AuthHandshake, proofTranscript, rawPublicKey, type AuthConfig, type AuthMessage, type AuthStep } from '../../src/iocom/auth.ts';
import type { LinkRole } from '../../src/util/link-role.ts';
import { InvalidArgumentError } from '../../src/wire/errors.ts';

type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };
const kA: KeyPair = generateKeyPairSync('ed25519');
const kB: KeyPair = generateKeyPairSync('ed25519');
const kC: KeyPair = generateKeyPairSync('ed25519');
const SEED = 0x5eed_a7;

function counterRandom(start: number): (n: number) => Uint8Array {
  let c = start;
  return (n) => new Uint8Array(n).fill(c++ & 0xff);
}

function hs(config: AuthConfig): AuthHandshake {
  return new AuthHandshake(config);
}

/** Deliver `msgs` to `to`; returns everything it answered, stopping at an error. */
function deliver(to: AuthHandshake, msgs: readonly AuthMessage[]): { sent: AuthMessage[]; error?: Error } {
  const sent: AuthMessage[] = [];
  for (const m of msgs) {
    const step: AuthStep = to.receive(m.ext, m.aux);
    sent.push(...step.send);
    if (step.error) return { sent, error: step.error };
  }
  return { sent };
}

const phase = (m: AuthMessage): number => m.ext[5]!;

describe('AuthHandshake v2: order of proofs', () => {
  it('mutual: the responder proves on the initiator\'s HELLO; the initiator proves only after verifying it', () => {
    const i = hs({ keyPair: kA, allowedPeerKeys: [kB.publicKey], role: 'initiator' });
    const r = hs({ keyPair: kB, allowedPeerKeys: [kA.publicKey], role: 'responder' });
    const [hi] = i.start();
    const [hr] = r.start();
    // The initiator gets the responder's HELLO first: it must not sign yet.
    const i1 = deliver(i, [hr!]);
    expect(i1).toEqual({ sent: [] });
    expect(i.gateOpen).toBe(false);
    const r1 = deliver(r, [hi!]);
    expect(r1.error).toBeUndefined();
    expect(r1.sent.map(phase)).toEqual([2]);
    expect(r.gateOpen).toBe(false); // r still waits for i's proof
    const i2 = deliver(i, r1.sent);
    expect(i2.error).toBeUndefined();
    expect(i2.sent.map(phase)).toEqual([2]);
    expect(i.peerVerified && i.gateOpen && i.acceptsMessages).toBe(true);
    const r2 = deliver(r, i2.sent);
    expect(r2).toEqual({ sent: [] });
    expect(r.peerVerified && r.gateOpen && r.acceptsMessages).toBe(true);
    expect(new Uint8Array(i.peerKey!)).toEqual(rawPublicKey(kB.publicKey));
    expect(new Uint8Array(r.peerKey!)).toEqual(rawPublicKey(kA.publicKey));
  });

  it('an initiator that requires nothing proves on the responder\'s HELLO', () => {
    const i = hs({ keyPair: kA, role: 'initiator' });
    const r = hs({ allowedPeerKeys: [kA.publicKey], role: 'responder' });
    const out = deliver(i, r.start());
    expect(out.sent.map(phase)).toEqual([2]);
    deliver(r, i.start());
    expect(deliver(r, out.sent).error).toBeUndefined();
    expect(r.peerVerified).toBe(true);
  });

  it('nobody proves to a peer that requires nothing; two key holders without allow lists are open at once', () => {
    const i = hs({ keyPair: kA, role: 'initiator' });
    const r = hs({ keyPair: kB, role: 'responder' });
    expect(deliver(i, r.start())).toEqual({ sent: [] });
    expect(deliver(r, i.start())).toEqual({ sent: [] });
    expect(i.gateOpen && r.gateOpen).toBe(true);
    expect(i.peerKey).toBeUndefined();
  });
});

describe('AuthHandshake v2: what is refused', () => {
  it('both ends claiming the same role are refused (no tie-break)', () => {
    for (const role of ['initiator', 'responder'] as const) {
      const x = hs({ keyPair: kA, allowedPeerKeys: [kB.publicKey], role });
      const y = hs({ keyPair: kB, allowedPeerKeys: [kA.publicKey], role });
      const out = deliver(x, y.start());
      expect(out.sent).toEqual([]);
      expect(out.error?.message).toMatch(new RegExp(`both ends claim the role ${role}`));
    }
  });

  it('a HELLO that echoes our nonce is refused before anything is signed', () => {
    const r = hs({ keyPair: kA, allowedPeerKeys: [kA.publicKey], role: 'responder', random: counterRandom(1) });
    const [hello] = r.start();
    const echo = { ext: hello!.ext.slice(), aux: hello!.aux };
    echo.ext[7] = 1; // claims the initiator role
    const out = deliver(r, [echo]);
    expect(out.sent).toEqual([]);
    expect(out.error?.message).toMatch(/carries our own nonce/);
  });

  it('a version-1 peer is refused with a message naming the version; other versions and formats too', () => {
    const r = hs({ allowedPeerKeys: [kA.publicKey], role: 'responder' });
    const v1 = new Uint8Array(64);
    v1.set([0x44, 0x4d, 0x41, 0x55, 1, 1, 1]);
    expect(deliver(r, [{ ext: v1, aux: rawPublicKey(kA.publicKey) }]).error?.message).toMatch(/peer speaks LNK_AUTH version 1 .*upgrade it.*version 2 only/);
    const v9 = v1.slice();
    v9[4] = 9;
    expect(deliver(hs({ allowedPeerKeys: [kA.publicKey], role: 'responder' }), [{ ext: v9, aux: new Uint8Array(0) }]).error?.message).toMatch(/version 9/);
    const junk = new Uint8Array(64).fill(7);
    expect(deliver(hs({ allowedPeerKeys: [kA.publicKey], role: 'responder' }), [{ ext: junk, aux: new Uint8Array(0) }]).error?.message).toMatch(/unknown format/);
    for (const err of [v1, v9, junk].map((ext) => hs({ keyPair: kA, role: 'initiator' }).receive(ext, new Uint8Array(0)).error)) expect((err as { code?: string }).code).toBe('AUTH_FAILED');
  });

  it('bad phase, bad role byte, bad key size, second HELLO, PROOF before HELLO, second PROOF, bad signature size', () => {
    const peer = hs({ keyPair: kB, allowedPeerKeys: [kA.publicKey], role: 'initiator' });
    const [hello] = peer.start();
    const mk = (): AuthHandshake => hs({ keyPair: kA, allowedPeerKeys: [kB.publicKey], role: 'responder' });
    const edit = (f: (e: Uint8Array) => void): Uint8Array => { const e = hello!.ext.slice(); f(e); return e; };
    expect(deliver(mk(), [{ ext: edit((e) => (e[5] = 7)), aux: hello!.aux }]).error?.message).toMatch(/unknown phase 7/);
    expect(deliver(mk(), [{ ext: edit((e) => (e[7] = 0)), aux: hello!.aux }]).error?.message).toMatch(/role 0/);
    expect(deliver(mk(), [{ ext: hello!.ext, aux: new Uint8Array(31) }]).error?.message).toMatch(/31-byte key/);
    expect(deliver(mk(), [hello!, hello!]).error?.message).toMatch(/second LNK_AUTH HELLO/);
    const proofExt = edit((e) => (e[5] = 2));
    expect(deliver(mk(), [{ ext: proofExt, aux: new Uint8Array(64) }]).error?.message).toMatch(/PROOF before HELLO/);
    expect(deliver(mk(), [hello!, { ext: proofExt, aux: new Uint8Array(63) }]).error?.message).toMatch(/63 bytes/);
    // A correct exchange, then a second proof.
    const r = mk();
    const rp = deliver(r, [hello!]).sent;
    const pp = deliver(peer, [...r.start(), ...rp]).sent;
    expect(deliver(r, pp).error).toBeUndefined();
    expect(deliver(r, pp).error?.message).toMatch(/second LNK_AUTH PROOF/);
  });

  it('keys without a known role are refused at construction; without keys the role is not needed and AUTH is ignored', () => {
    expect(() => hs({ keyPair: kA })).toThrow(InvalidArgumentError);
    expect(() => hs({ allowedPeerKeys: [kA.publicKey] })).toThrow(/needs the link's role/);
    expect(() => hs({ keyPair: kA, role: 'sideways' as LinkRole })).toThrow(/role must be/);
    const open = hs({});
    expect(open.active).toBe(false);
    expect(open.start()).toEqual([]);
    const anyHello = hs({ keyPair: kB, role: 'initiator' }).start()[0]!;
    expect(open.receive(anyHello.ext, anyHello.aux)).toEqual({ send: [] });
    expect(open.receive(new Uint8Array(3), new Uint8Array(0))).toEqual({ send: [] });
  });

  it('channel binding: a proof verifies only on a link with the same binding; a bound and an unbound end refuse each other by name', () => {
    const cb1 = new Uint8Array(32).fill(1);
    const cb2 = new Uint8Array(32).fill(2);
    const run = (ci: Uint8Array | undefined, cr: Uint8Array | undefined): { i: AuthHandshake; r: AuthHandshake; error?: Error } => {
      const i = hs({ keyPair: kA, allowedPeerKeys: [kB.publicKey], role: 'initiator', ...(ci ? { channelBinding: () => ci } : {}) });
      const r = hs({ keyPair: kB, allowedPeerKeys: [kA.publicKey], role: 'responder', ...(cr ? { channelBinding: () => cr } : {}) });
      const a = deliver(i, r.start());
      if (a.error) return { i, r, error: a.error };
      const b = deliver(r, i.start());
      if (b.error) return { i, r, error: b.error };
      const c = deliver(i, b.sent);
      if (c.error) return { i, r, error: c.error };
      const d = deliver(r, c.sent);
      return { i, r, ...(d.error ? { error: d.error } : {}) };
    };
    const same = run(cb1, cb1.slice());
    expect(same.error).toBeUndefined();
    expect(same.i.peerVerified && same.r.peerVerified).toBe(true);
    expect(run(cb1, cb2).error?.message).toMatch(/signature does not verify .*bound to this TLS channel/);
    expect(run(cb1, undefined).error?.message).toMatch(/this end binds proofs to its TLS channel but the peer does not/);
    expect(run(undefined, cb1).error?.message).toMatch(/peer binds its proof to a TLS channel but this end has none/);
    const broken = hs({ keyPair: kB, allowedPeerKeys: [kA.publicKey], role: 'responder', channelBound: true, channelBinding: () => { throw new Error('TLS not ready'); } });
    const i = hs({ keyPair: kA, allowedPeerKeys: [kB.publicKey], role: 'initiator', channelBinding: () => cb1 });
    expect(deliver(broken, i.start()).error?.message).toMatch(/cannot make our LNK_AUTH proof: TLS not ready/);
  });
});

describe('AuthHandshake v2: the signed transcript', () => {
  it('is laid out as documented in auth.ts', () => {
    const sk = rawPublicKey(kA.publicKey);
    const vk = rawPublicKey(kB.publicKey);
    const sn = new Uint8Array(32).fill(0x11);
    const vn = new Uint8Array(32).fill(0x22);
    const cb = new Uint8Array(32).fill(0x33);
    const t = proofTranscript({ signerRole: 'responder', signerKey: sk, verifierKey: vk, signerNonce: sn, verifierNonce: vn, channelBinding: cb });
    const ctx = Buffer.from(`${AUTH_CONTEXT}\0`);
    expect(AUTH_CONTEXT).toBe('dmsg-mesh LNK_AUTH v2 proof');
    expect(Buffer.from(t)).toEqual(Buffer.concat([ctx, Buffer.from([2]), sk, Buffer.from([1]), vk, sn, vn, Buffer.from([32]), cb]));
    const noKey = proofTranscript({ signerRole: 'initiator', signerKey: sk, verifierKey: undefined, signerNonce: sn, verifierNonce: vn, channelBinding: undefined });
    expect(Buffer.from(noKey)).toEqual(Buffer.concat([ctx, Buffer.from([1]), sk, Buffer.from([0]), Buffer.alloc(32), sn, vn, Buffer.from([0])]));
  });

  it('two different sets of fields never give the same bytes (property, fixed seed)', () => {
    const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    const fields = fc.record({
      signerRole: fc.constantFrom<LinkRole>('initiator', 'responder'),
      signerKey: bytes(32),
      verifierKey: fc.option(bytes(32), { nil: undefined }),
      signerNonce: bytes(32),
      verifierNonce: bytes(32),
      channelBinding: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fields, fields, (f, g) => {
        const same = JSON.stringify(f, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)) === JSON.stringify(g, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v));
        expect(Buffer.from(proofTranscript(f)).equals(Buffer.from(proofTranscript(g)))).toBe(same);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('a proof signed for one role never verifies as the other (the reflection fix)', () => {
    const r = hs({ keyPair: kA, allowedPeerKeys: [kB.publicKey], role: 'responder', random: counterRandom(10) });
    const i = hs({ keyPair: kB, allowedPeerKeys: [kA.publicKey], role: 'initiator', random: counterRandom(20) });
    deliver(i, r.start());
    const iHello = i.start()[0]!;
    deliver(r, [iHello]);
    // Sign, with A's key, the transcript the initiator expects but with the responder role flipped to initiator.
    const forged = sign(null, proofTranscript({ signerRole: 'initiator', signerKey: rawPublicKey(kA.publicKey), verifierKey: rawPublicKey(kB.publicKey), signerNonce: new Uint8Array(32).fill(10), verifierNonce: new Uint8Array(32).fill(20), channelBinding: undefined }), kA.privateKey);
    const proofExt = r.start()[0]!.ext.slice();
    proofExt[5] = 2;
    expect(deliver(i, [{ ext: proofExt, aux: new Uint8Array(forged) }]).error?.message).toMatch(/signature does not verify .*as the responder/);
  });
});

/**
 * A keyless attacker against honest victims. Each session is one victim's
 * handshake with the attacker. The attacker claims any key (from the
 * victims' keys and an unrelated one), any nonce (seen from any victim or
 * fresh), either role, and finally sends each still-open session any proof
 * it has collected. No victim may end verified.
 */
describe('AuthHandshake v2: a keyless attacker mixing everything it sees (property, fixed seed)', () => {
  const victimKeys = [kA, kB];
  const allowed = [kA.publicKey, kB.publicKey]; // each victim also allows its own key (the self-key variant)
  const claimable = [rawPublicKey(kA.publicKey), rawPublicKey(kB.publicKey), rawPublicKey(kC.publicKey)];

  const session = fc.record({
    victim: fc.integer({ min: 0, max: 1 }),
    victimRole: fc.constantFrom<LinkRole>('initiator', 'responder'),
    claimedKey: fc.integer({ min: 0, max: 2 }),
    nonceFrom: fc.integer({ min: -1, max: 5 }), // -1: fresh; else the nonce of session i (mod count)
    claimedRole: fc.constantFrom(1, 2),
  });
  const scenario = fc.record({
    sessions: fc.array(session, { minLength: 2, maxLength: 5 }),
    forwardOrder: fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
  });

  function attack(s: { sessions: Array<{ victim: number; victimRole: LinkRole; claimedKey: number; nonceFrom: number; claimedRole: number }>; forwardOrder: number[] }, bound: boolean): number {
    const victims = s.sessions.map((x, n) =>
      hs({
        keyPair: victimKeys[x.victim]!,
        allowedPeerKeys: allowed,
        role: x.victimRole,
        ...(bound ? { channelBinding: () => new Uint8Array(32).fill(n + 1) } : {}),
      }),
    );
    const hellos = victims.map((v) => v.start()[0]!);
    const failed = victims.map(() => false);
    const proofs: AuthMessage[] = [];
    s.sessions.forEach((x, n) => {
      const ext = hellos[n]!.ext.slice();
      const nonce = x.nonceFrom < 0 ? new Uint8Array(32).fill(0xee - n) : hellos[x.nonceFrom % hellos.length]!.ext.slice(32, 64);
      ext.set(nonce, 32);
      ext[7] = x.claimedRole;
      const out = deliver(victims[n]!, [{ ext, aux: claimable[x.claimedKey]! }]);
      if (out.error) failed[n] = true;
      proofs.push(...out.sent.filter((m) => phase(m) === 2));
    });
    for (const k of s.forwardOrder) {
      if (proofs.length === 0) break;
      const n = k % victims.length;
      if (failed[n]) continue;
      const out = deliver(victims[n]!, [proofs[(k >> 3) % proofs.length]!]);
      if (out.error) failed[n] = true;
      proofs.push(...out.sent);
    }
    return victims.filter((v) => v.peerVerified).length;
  }

  it('every victim accepted the attacker\'s connection (responders), no channel binding: nobody is fooled', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        for (const x of s.sessions) x.victimRole = 'responder';
        expect(attack(s, false)).toBe(0);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it('any roles, every connection with its own channel binding (TLS): nobody is fooled', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        expect(attack(s, true)).toBe(0);
      }),
      { seed: SEED + 1, numRuns: 150 },
    );
  });

  it('control: any roles without channel binding, the attacker can relay a dialling victim to an accepting one (the documented plain-TCP limit)', () => {
    // A (initiator, dialled the attacker) and B (responder, the attacker dialled it): pure relay.
    const s = {
      sessions: [
        { victim: 0, victimRole: 'initiator' as LinkRole, claimedKey: 1, nonceFrom: 1, claimedRole: 2 },
        { victim: 1, victimRole: 'responder' as LinkRole, claimedKey: 0, nonceFrom: 0, claimedRole: 1 },
      ],
      forwardOrder: [0, 1],
    };
    expect(attack(s, false)).toBeGreaterThan(0);
    expect(attack(s, true)).toBe(0);
  });
});

describe('AuthHandshake v2: arbitrary input', () => {
  it('receive() never throws; every refusal is a ProtocolError AUTH_FAILED (property, fixed seed)', () => {
    const ext = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 80 }),
      // Mostly well-formed headers with random phase, flags, role and nonce.
      fc.tuple(fc.constantFrom(1, 2, 3), fc.integer({ min: 0, max: 3 }), fc.nat(7), fc.integer({ min: 0, max: 3 }), fc.uint8Array({ minLength: 56, maxLength: 56 })).map(([v, ph, fl, ro, rest]) => {
        const e = new Uint8Array(64);
        e.set([0x44, 0x4d, 0x41, 0x55, v, ph, fl, ro]);
        e.set(rest, 8);
        return e;
      }),
    );
    const aux = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 100 }), fc.constantFrom(rawPublicKey(kA.publicKey), rawPublicKey(kB.publicKey)), fc.uint8Array({ minLength: 64, maxLength: 64 }));
    const config = fc.record({ role: fc.constantFrom<LinkRole>('initiator', 'responder'), keys: fc.integer({ min: 0, max: 2 }), bound: fc.boolean() });
    fc.assert(
      fc.property(config, fc.array(fc.tuple(ext, aux), { minLength: 1, maxLength: 6 }), (c, msgs) => {
        const h = hs({
          role: c.role,
          ...(c.keys !== 1 ? { keyPair: kA } : {}),
          ...(c.keys !== 0 ? { allowedPeerKeys: [kB.publicKey, kA.publicKey] } : {}),
          ...(c.bound ? { channelBinding: () => new Uint8Array(32).fill(9) } : {}),
        });
        h.start();
        for (const [e, a] of msgs) {
          const step = h.receive(e, a);
          if (step.error) {
            expect(step.error.code).toBe('AUTH_FAILED');
            break;
          }
        }
        expect(h.peerVerified).toBe(false); // nobody here holds kB's private key, and kA's holder never signed for this exchange
      }),
      { seed: SEED + 2, numRuns: 400 },
    );
  });
});

/**
 * Issue 7 item 6: LNK_AUTH bypass by reflection, performed for real against
 * relays on 127.0.0.1 by an attacker that holds no private key. It reads the
 * relays' HELLOs, claims one relay's key to the other with that relay's
 * nonce, and forwards whatever proofs the relays hand out. Every relay must
 * refuse: the attacker's links close with AUTH_FAILED, nothing but LNK_AUTH
 * ever reaches the attacker, and no relay logs a verified peer key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { rawPublicKey } from '../../src/iocom/auth.ts';
import {
  authFailure, authMessage, dialVictim, forgedHello, nonceOf, onlyAuthReceived, PHASE_PROOF, probeAndExpectClosed, relay,
  ROLE_INITIATOR, ROLE_RESPONDER, sendAuth, type AttackLink, type Relay,
} from './auth-attack-kit.ts';

const keys = () => generateKeyPairSync('ed25519');
let relays: Relay[] = [];
let links: AttackLink[] = [];
afterEach(async () => {
  for (const l of links) l.stream.destroy();
  await Promise.all(relays.map((r) => r.handle.stop()));
  relays = [];
  links = [];
});

const ROLES = [['initiator', ROLE_INITIATOR], ['responder', ROLE_RESPONDER]] as const;

function noneVerified(...rs: Relay[]): void {
  for (const r of rs) expect(r.log.filter((l) => /verified/.test(l))).toEqual([]);
}

describe('LNK_AUTH reflection (real relays over TCP, keyless attacker)', () => {
  it.each(ROLES)('two relays that allow each other: the issue\'s attack (attacker claims role %s) is refused', async (_name, role) => {
    const k1 = keys();
    const k2 = keys();
    const r1 = await relay('r1', { keyPair: k1, allowedPeerKeys: [k2.publicKey] });
    const r2 = await relay('r2', { keyPair: k2, allowedPeerKeys: [k1.publicKey] });
    relays.push(r1, r2);
    const to1 = await dialVictim(r1);
    const to2 = await dialVictim(r2);
    links.push(to1, to2);
    const c1 = nonceOf(to1.hello);
    const c2 = nonceOf(to2.hello);
    // To R2: "I am R1" with R1's nonce; to R1: "I am R2" with R2's nonce.
    sendAuth(to2.peer, forgedHello(to2.hello, c1, role), rawPublicKey(k1.publicKey));
    sendAuth(to1.peer, forgedHello(to1.hello, c2, role), rawPublicKey(k2.publicKey));
    const proof2 = await authMessage(to2.peer, PHASE_PROOF);
    const proof1 = await authMessage(to1.peer, PHASE_PROOF);
    // Forward each relay's proof (if it gave one) to the other.
    if (proof2 && !to1.stream.destroyed) sendAuth(to1.peer, proof2.ext, proof2.aux);
    if (proof1 && !to2.stream.destroyed) sendAuth(to2.peer, proof1.ext, proof1.aux);
    if (role === ROLE_INITIATOR) {
      // Claiming the honest role, the attacker gets the responders' proofs: the test really forwards them.
      expect(proof1).toBeDefined();
      expect(proof2).toBeDefined();
    }
    const f1 = authFailure(await probeAndExpectClosed(to1));
    const f2 = authFailure(await probeAndExpectClosed(to2));
    for (const f of [f1, f2]) {
      expect(f.code).toBe('AUTH_FAILED');
      expect(f.message).toMatch(role === ROLE_INITIATOR ? /signature does not verify/ : /both ends claim the role responder/);
    }
    onlyAuthReceived(to1);
    onlyAuthReceived(to2);
    noneVerified(r1, r2);
  });

  it.each(ROLES)('one relay whose allow list holds its own key: two connections reflected into each other (claimed role %s) are refused', async (_name, role) => {
    const k = keys();
    const r = await relay('self', { keyPair: k, allowedPeerKeys: [k.publicKey] });
    relays.push(r);
    const a = await dialVictim(r);
    const b = await dialVictim(r);
    links.push(a, b);
    const own = rawPublicKey(k.publicKey);
    sendAuth(a.peer, forgedHello(a.hello, nonceOf(b.hello), role), own);
    sendAuth(b.peer, forgedHello(b.hello, nonceOf(a.hello), role), own);
    const pa = await authMessage(a.peer, PHASE_PROOF);
    const pb = await authMessage(b.peer, PHASE_PROOF);
    if (pa && !b.stream.destroyed) sendAuth(b.peer, pa.ext, pa.aux);
    if (pb && !a.stream.destroyed) sendAuth(a.peer, pb.ext, pb.aux);
    if (role === ROLE_INITIATOR) {
      expect(pa).toBeDefined();
      expect(pb).toBeDefined();
    }
    for (const l of [a, b]) {
      const f = authFailure(await probeAndExpectClosed(l));
      expect(f.code).toBe('AUTH_FAILED');
      onlyAuthReceived(l);
    }
    noneVerified(r);
  });

  it('one relay whose allow list holds its own key: its own proof reflected back on the same connection is refused', async () => {
    const k = keys();
    const r = await relay('mirror', { keyPair: k, allowedPeerKeys: [k.publicKey] });
    relays.push(r);
    const l = await dialVictim(r);
    links.push(l);
    // Echo the relay's HELLO (its key, its nonce) with the initiator role, then reflect whatever proof comes.
    sendAuth(l.peer, forgedHello(l.hello, nonceOf(l.hello), ROLE_INITIATOR), rawPublicKey(k.publicKey));
    const p = await authMessage(l.peer, PHASE_PROOF);
    if (p && !l.stream.destroyed) sendAuth(l.peer, p.ext, p.aux);
    const f = authFailure(await probeAndExpectClosed(l));
    expect(f.code).toBe('AUTH_FAILED');
    onlyAuthReceived(l);
    noneVerified(r);
  });
});

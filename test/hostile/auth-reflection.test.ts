/**
 * Issue 7, attack 6: LNK_AUTH bypass by reflection, with no private key.
 *
 * Two relays R1 and R2 allow each other's keys. The attacker connects to
 * both and forwards every LNK_AUTH message each relay sends to the other,
 * unchanged. Against the v1 handshake this is exactly the attack:
 * R1's HELLO (R1's key, challenge c1) goes to R2, which answers at once with
 * its PROOF over ctx‖c1‖c2‖K_R2; R2's HELLO (K_R2, c2) goes to R1, and R2's
 * PROOF, forwarded to R1, verifies there. Written as a plain forwarder it
 * does not depend on the handshake's format, so it stays a real attack
 * against whatever replaces v1: a handshake that binds both keys, both
 * challenges and the role refuses it. The single-relay variant forwards
 * between two connections to one relay whose allow list holds its own key.
 *
 * After the forwarding, the attacker tries what a verified peer could:
 * PING, `DBG_SHELL tree`, a span. None of it may be accepted.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_PEER_TYPE } from '../../src/span/router.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { MAX_LATENCY_MS, SAFETY_MS, finishAttack, onCleanup, since, startBystander, startHostileRelay, useHostileCleanup, type RelayProcess } from '../helpers/hostile-relay.ts';

useHostileCleanup();

type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };

function keyDir(): (name: string, kp: KeyPair) => { key: string; pub: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dmsg-hostile-auth-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return (name, kp) => {
    writeFileSync(join(dir, `${name}.key`), kp.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
    writeFileSync(join(dir, `${name}.key.pub`), kp.publicKey.export({ format: 'pem', type: 'spki' }) as string);
    return { key: join(dir, `${name}.key`), pub: join(dir, `${name}.key.pub`) };
  };
}

/** Forward every LNK_AUTH `a` receives to `b` and back (ext and aux unchanged, our own sequence numbers). */
function reflect(a: HostilePeer, b: HostilePeer): { forwarded: () => number } {
  let n = 0;
  const pipe = (from: HostilePeer, to: HostilePeer) => (m: Message): void => {
    if ((m.header.cmd & DMSGF.BASECMDMASK) !== DMSG.LNK_AUTH) return;
    n++;
    to.send({ cmd: m.header.cmd & DMSGF.BASECMDMASK }, m.ext.slice(), m.aux.slice());
  };
  // What arrived before the hooks (each relay's HELLO comes at once), then everything after.
  const early = [...a.received.map((m) => [a, b, m] as const), ...b.received.map((m) => [b, a, m] as const)];
  a.onMessage = pipe(a, b);
  b.onMessage = pipe(b, a);
  for (const [from, to, m] of early) pipe(from, to)(m);
  return { forwarded: () => n };
}

interface Outcome {
  verified: boolean;
  ping: boolean;
  tree: boolean;
  spanAccepted: boolean;
  linkClosed: string | null;
}

/**
 * After the forwarding, on `victim` (the attacker's link to `relay`): wait
 * until the relay verified it, closed it, or its auth deadline passed; then
 * try PING, DBG_SHELL tree and a span.
 */
async function probe(relay: RelayProcess, victim: HostilePeer, connId: string): Promise<Outcome> {
  const verifiedLine = relay.waitForLine(new RegExp(`^link ${connId}: peer key \\w+ verified$`), 12_000);
  const down = relay.waitLinkDown(connId, 12_000);
  await Promise.race([verifiedLine, down]);
  const verified = (await relay.waitForLine(new RegExp(`^link ${connId}: peer key \\w+ verified$`), 0)) !== null;
  const ping = !victim.isClosed && (await victim.pingRtt(3000)) !== null;
  let tree = false;
  let spanAccepted = false;
  if (!victim.isClosed) {
    victim.send({ cmd: DMSG.DBG_SHELL }, undefined, new TextEncoder().encode('tree\0'));
    victim.sendConn({ peerMask: 0n });
    victim.write(victim.spanFrame(7n, { service: 'injected', instance: 'evil', peerType: SERVICE_PEER_TYPE }));
    await victim.pingRtt(3000);
    tree = victim.received.some((m) => m.header.cmd === (DMSG.DBG_SHELL | DMSGF.REPLY));
    spanAccepted = (await relay.waitForLine(/span up injected\/evil/, 0)) !== null;
  }
  return { verified, ping, tree, spanAccepted, linkClosed: relay.downReason(connId) ?? null };
}

function describeOutcome(o: Outcome): string {
  if (!o.verified && !o.ping && !o.tree && !o.spanAccepted) return `refused (${o.linkClosed ?? 'link left unauthenticated'})`;
  return `BYPASSED: verified=${o.verified} ping=${o.ping} tree=${o.tree} span=${o.spanAccepted}`;
}

describe('hostile: LNK_AUTH reflection without a private key', () => {
  it('two relays that allow each other: forwarding one\'s handshake to the other proves nothing', async () => {
    const files = keyDir();
    const k1 = files('r1', generateKeyPairSync('ed25519'));
    const k2 = files('r2', generateKeyPairSync('ed25519'));
    const byKp = generateKeyPairSync('ed25519');
    const kb = files('bystander', byKp);
    const r1 = await startHostileRelay({ name: 'R1', config: { key: k1.key, 'allow-key': [k2.pub, kb.pub] } });
    const r2 = await startHostileRelay({ name: 'R2', config: { key: k2.key, 'allow-key': [k1.pub] } });
    const baselineRssMb = r1.sampleRss()!;
    const bystander = await startBystander(r1, { keyPair: byKp });

    const t0 = performance.now();
    const a1 = await HostilePeer.connect(r1.port, { read: 'decode' });
    const a2 = await HostilePeer.connect(r2.port, { read: 'decode' });
    const id1 = await r1.connIdOf(a1.localPort);
    const id2 = await r2.connIdOf(a2.localPort);
    const fwd = reflect(a1, a2);
    const [o1, o2] = await Promise.all([probe(r1, a1, id1), probe(r2, a2, id2)]);
    // Not only the log: a span R1 accepted would be relayed to its bystander (its link is ordered).
    await bystander.roundTrip();
    if (bystander.router.spans('injected').length > 0) o1.spanAccepted = true;

    const broken = await finishAttack({
      attack: '6 LNK_AUTH reflection (R1 <-> R2)',
      relay: r1,
      bystander,
      effect: `R1: ${describeOutcome(o1)}; R2: ${describeOutcome(o2)}; ${fwd.forwarded()} AUTH messages forwarded`,
      timeToEffectMs: since(t0),
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + 150,
      extra: { r1: o1, r2: o2 },
    });
    expect(broken, r1.log()).toEqual([]);
    expect(r2.alive, 'R2 still runs').toBe(true);
    for (const [name, o] of [['R1', o1], ['R2', o2]] as const) {
      expect(o.verified, `${name} logged the attacker's key as verified`).toBe(false);
      expect(o.ping, `${name} answered the attacker's PING`).toBe(false);
      expect(o.tree, `${name} answered DBG_SHELL tree`).toBe(false);
      expect(o.spanAccepted, `${name} accepted the injected span`).toBe(false);
    }
  }, SAFETY_MS * 3);

  it('one relay whose allow list holds its own key: forwarding between two connections to it proves nothing', async () => {
    const files = keyDir();
    const kr = files('r', generateKeyPairSync('ed25519'));
    const byKp = generateKeyPairSync('ed25519');
    const kb = files('bystander', byKp);
    const relay = await startHostileRelay({ name: 'R', config: { key: kr.key, 'allow-key': [kr.pub, kb.pub] } });
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay, { keyPair: byKp });

    const t0 = performance.now();
    const a = await HostilePeer.connect(relay.port, { read: 'decode' });
    const b = await HostilePeer.connect(relay.port, { read: 'decode' });
    const idA = await relay.connIdOf(a.localPort);
    const idB = await relay.connIdOf(b.localPort);
    const fwd = reflect(a, b);
    const [oa, ob] = await Promise.all([probe(relay, a, idA), probe(relay, b, idB)]);
    await bystander.roundTrip();
    if (bystander.router.spans('injected').length > 0) oa.spanAccepted = ob.spanAccepted = true;

    const broken = await finishAttack({
      attack: '6 LNK_AUTH reflection (one relay allowing its own key)',
      relay,
      bystander,
      effect: `A: ${describeOutcome(oa)}; B: ${describeOutcome(ob)}; ${fwd.forwarded()} AUTH messages forwarded`,
      timeToEffectMs: since(t0),
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + 150,
      extra: { a: oa, b: ob },
    });
    expect(broken, relay.log()).toEqual([]);
    for (const [name, o] of [['A', oa], ['B', ob]] as const) {
      expect(o.verified, `connection ${name}: the relay logged the attacker's key as verified`).toBe(false);
      expect(o.ping, `connection ${name}: PING answered`).toBe(false);
      expect(o.tree, `connection ${name}: DBG_SHELL tree answered`).toBe(false);
      expect(o.spanAccepted, `connection ${name}: injected span accepted`).toBe(false);
    }
  }, SAFETY_MS * 3);
});

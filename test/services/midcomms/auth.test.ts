/**
 * Authenticated channels (src/services/midcomms/channel-verifier.ts): a
 * session reads a peer's frames only from a channel it can attribute to that
 * peer. Router 0 is us, router 1 a real peer, router 2 an attacker with no
 * midcomms that opens raw transactions on router 0's midcomms. Each test
 * performs one attack and shows it refused (counted), the attacker's channel
 * closed, and the real session with router 1 neither fed nor reset.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChannelVerifier, PENDING_PER_ADDRESS } from '../../../src/services/midcomms/channel-verifier.ts';
import { DLM_VERSION } from '../../../src/services/midcomms/constants.ts';
import { encodeHello, encodeOpts } from '../../../src/services/midcomms/frame-encoder.ts';
import { parseFrame } from '../../../src/services/midcomms/frame-reader.ts';
import { MIDCOMMS_FRAME_CMD, MIDCOMMS_SESSION_CMD, midcomms, nodeidOf } from '../../../src/services/midcomms/midcomms.ts';
import type { Midcomms } from '../../../src/services/midcomms/midcomms.ts';
import type { Session } from '../../../src/services/midcomms/session.ts';
import { TransactionChannel } from '../../../src/services/midcomms/transaction-channel.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import type { Router } from '../../../src/span/index.ts';
import { createMesh, until } from '../../helpers/mesh.ts';
import type { Mesh } from '../../helpers/mesh.ts';
import { closeMidcomms, midcommsReachable } from '../../helpers/midcomms-mesh.ts';
import { virtualTime } from '../../helpers/virtual-time.ts';
import { msg, msgNumber } from './fake-net.ts';

const V32 = DLM_VERSION.V3_2;
let mesh: Mesh | null = null;
const services: Midcomms[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await closeMidcomms(services, mesh);
  mesh = null;
});

interface Setup {
  clock: ManualClock;
  run(ms: number): Promise<void>;
  runUntil(check: () => boolean, what: string, maxMs?: number): Promise<void>;
  r0: Router;
  r1: Router;
  attacker: Router;
  m0: Midcomms;
  m1: Midcomms;
  /** Router 1's session with router 0 (it sends), router 0's with router 1 (it reads). */
  s10: Session;
  s01: Session;
  got: number[];
  /** Batches router 0's channels received, per channel, in order (copies). */
  received: Map<TransactionChannel, Uint8Array[]>;
}

/** Routers 0-1 and 0-2; router 1 sends `first` messages to router 0, delivered and acknowledged. */
async function setup(first: number): Promise<Setup> {
  const received = new Map<TransactionChannel, Uint8Array[]>();
  const receive = TransactionChannel.prototype.receive;
  vi.spyOn(TransactionChannel.prototype, 'receive').mockImplementation(function (this: TransactionChannel, aux: Uint8Array) {
    const list = received.get(this) ?? [];
    list.push(aux.slice());
    received.set(this, list);
    receive.call(this, aux);
  });
  mesh = createMesh(3, [
    [0, 1],
    [0, 2],
  ]);
  const clock = new ManualClock();
  const { run, runUntil } = virtualTime(clock, 20_000);
  const [r0, r1, attacker] = mesh.routers as [Router, Router, Router];
  const m0 = midcomms(r0, { clock });
  const m1 = midcomms(r1, { clock });
  services.push(m0, m1);
  await until(() => midcommsReachable(mesh!, 0, 1) && midcommsReachable(mesh!, 1, 0) && midcommsReachable(mesh!, 2, 0), 'spans');
  const s10 = m1.session(r0.nodeId);
  const s01 = m0.session(r1.nodeId);
  const got: number[] = [];
  s01.messages$.subscribe((m) => got.push(msgNumber(m)));
  for (let i = 0; i < first; i++) s10.post(msg(i), () => {});
  await runUntil(() => got.length === first && s10.stats().queueMessages === 0, 'the first messages delivered and acknowledged');
  return { clock, run, runUntil, r0, r1, attacker, m0, m1, s10, s01, got, received };
}

/**
 * What router 1 sent on the channel it opened to router 0, as router 0
 * received it: its HELLO, then the rest in order (router 0 read the HELLO's
 * message before the channel was proven and hands it to the session after
 * the PROOF, so it is recorded after the PROOF: put it back first).
 */
function peerChannelBatches(t: Setup): Uint8Array[] {
  const batches = t.received.get(peerChannel(t))!;
  const hello = batches.find((b) => isPeerHello(t, b))!;
  return [hello, ...batches.filter((b) => b !== hello)];
}

function isPeerHello(t: Setup, b: Uint8Array): boolean {
  const h = parseFrame(b, 0, b[12]! | (b[13]! << 8));
  return h.kind === 'hello' && h.address === t.r1.nodeId && h.flags === 0;
}

/** Router 0's end of the first channel router 1 opened to it. */
function peerChannel(t: Setup): TransactionChannel {
  for (const [channel, batches] of t.received) if (batches.some((b) => isPeerHello(t, b))) return channel;
  throw new Error("no channel of router 1's seen at router 0");
}

/** The attacker opens a midcomms channel on router 0 and sends `batches` (each one DMSG message). */
function attack(t: Setup, batches: Uint8Array[]): { closed: () => boolean; send(b: Uint8Array): void } {
  const tx = t.attacker.open('midcomms', MIDCOMMS_SESSION_CMD, { node: t.r0.nodeId });
  let closed = false;
  tx.rx$.subscribe({ complete: () => (closed = true), error: () => (closed = true) });
  const send = (b: Uint8Array): void => {
    if (tx.canSend) tx.send(MIDCOMMS_FRAME_CMD, { aux: b });
  };
  for (const b of batches) send(b);
  return { closed: () => closed || !tx.canSend, send };
}

/** Router 0's session with router 1 as the attack must leave it: same session ids, never reset, only router 1's messages. */
function sessionSnapshot(t: Setup): { remote: string; local: string; resets: number; peerResets: number; channelsAccepted: number } {
  const s = t.s01.stats();
  return { remote: s.remote, local: s.local, resets: s.resets, peerResets: s.peerResets, channelsAccepted: s.channelsAccepted };
}

async function stillDelivers(t: Setup, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) t.s10.post(msg(i), () => {});
  await t.runUntil(() => t.got.length === from + n && t.s10.stats().queueMessages === 0, 'router 1 still delivers');
  expect(t.got).toEqual([...Array(from + n).keys()]);
}

const token = (k: number): Uint8Array => Uint8Array.from([0xa0, 1, 2, 3, 4, 5, k & 0xff, (k >>> 8) & 0xff]);

describe('midcomms: channels are read only once attributed to their opener', () => {
  it('a forged HELLO claiming router 1 on a channel router 0 did not open is denied by router 1; nothing reaches or resets the session', async () => {
    const t = await setup(20);
    const before = sessionSnapshot(t);
    const id1 = nodeidOf(t.r1.nodeId);
    // A new session id (a real one would reset the session: "router 1 restarted") and a token router 1 never issued.
    const hello = encodeHello(V32, id1, { inc: 0x5eed, gen: 1 }, null, 0, t.r1.nodeId, token(1));
    const a = attack(t, [hello]);
    // The same with a forged message (sequence 0, what a session taking the new id expects) after the HELLO: closed before any proof.
    const b = attack(t, [new Uint8Array([...encodeHello(V32, id1, { inc: 0x5eed, gen: 2 }, null, 0, t.r1.nodeId, token(2)), ...encodeOpts(V32, id1, 0, msg(999))])]);
    await t.run(300);
    expect(t.got, 'nothing the attacker wrote was delivered').toEqual([...Array(20).keys()]);
    expect(sessionSnapshot(t), 'the session was not reset').toEqual(before);
    expect([a.closed(), b.closed()], "the attacker's channels closed").toEqual([true, true]);
    expect(t.m0.verification().refused).toMatchObject({ denied: 1, unverifiedFrame: 1 });
    expect(t.m1.verification().denialsSent).toBeGreaterThanOrEqual(1);
    expect(sessionSnapshot(t)).toEqual(before);
    expect(t.m0.refusedChannels).toBe(2);
    await stillDelivers(t, 20, 20);
    expect(sessionSnapshot(t)).toEqual(before);
  });

  it('a forged HELLO claiming an address that serves no span waits for a proof that never comes (timeout); no session is made for it', async () => {
    const t = await setup(5);
    const a = attack(t, [encodeHello(V32, 77, { inc: 9, gen: 1 }, null, 0, 'ghost', token(3))]);
    await t.run(100);
    expect(t.m0.verification().pending).toBe(1);
    expect(t.m0.sessions().has('ghost')).toBe(false);
    await t.runUntil(() => t.m0.verification().refused.timeout === 1 && a.closed(), 'the ghost channel timed out', 6000);
    expect(t.m0.verification().pending).toBe(0);
    expect([...t.m0.sessions().keys()]).toEqual([t.r1.nodeId]);
  });

  it("router 1's frames from an ended session, replayed by the attacker, are refused: no duplicate delivery, no reset", async () => {
    const t = await setup(30);
    const recorded = peerChannelBatches(t);
    expect(recorded.length).toBeGreaterThan(1); // the HELLO, then the messages
    // Router 1 ends that session (FIN close): its channel closes, both begin new session ids.
    await t.s10.shutdown();
    await t.runUntil(() => t.s01.stats().channels === 0 && t.s10.stats().channels === 0, 'the old channel closed');
    await stillDelivers(t, 30, 10);
    const before = sessionSnapshot(t);
    // The old HELLO alone: its token is held by nobody now.
    const a = attack(t, [recorded[0]!]);
    await t.runUntil(() => t.m0.verification().refused.denied === 1 && a.closed(), 'the replayed HELLO denied');
    // The whole recording at once: data before any proof.
    const b = attack(t, recorded);
    await t.runUntil(() => t.m0.verification().refused.unverifiedFrame === 1 && b.closed(), 'the replayed stream refused');
    expect(t.got).toEqual([...Array(40).keys()]);
    expect(sessionSnapshot(t)).toEqual(before);
    await stillDelivers(t, 40, 10);
  });

  it("a third router relaying router 1's live HELLO verbatim gets no proof: router 1 proves only its own channel", async () => {
    const t = await setup(20);
    const recorded = peerChannelBatches(t);
    const before = sessionSnapshot(t);
    const proofs = t.m1.verification().proofsWritten;
    // Router 1's channel is still open: its token is live, so router 1 does write a PROOF, but on its own channel.
    const a = attack(t, [recorded[0]!]);
    await t.runUntil(() => t.m1.verification().proofsWritten > proofs, 'router 1 answered the challenge about its own token');
    await t.run(200);
    expect(a.closed()).toBe(false);
    expect(t.m0.verification().pending).toBe(1);
    await t.runUntil(() => t.m0.verification().refused.timeout === 1 && a.closed(), 'the relayed channel timed out', 6000);
    // Relaying its messages too: refused before any proof, nothing delivered twice.
    const b = attack(t, recorded);
    await t.runUntil(() => t.m0.verification().refused.unverifiedFrame === 1 && b.closed(), 'the relayed stream refused');
    expect(t.got).toEqual([...Array(20).keys()]);
    expect(sessionSnapshot(t)).toEqual(before);
    await stillDelivers(t, 20, 20);
    expect(sessionSnapshot(t)).toEqual(before);
  });

  it("a replayed HELLO carrying router 1's used resume ticket gets no shortcut: the ticket is good once", async () => {
    const t = await setup(10);
    expect(t.m0.verification()).toMatchObject({ verified: 1, byTicket: 0 });
    // Router 0 drops router 1's channel: router 1 opens another, whose HELLO carries the ticket router 0 gave on the first.
    const first = peerChannel(t);
    first.close();
    await stillDelivers(t, 10, 10);
    expect(t.m0.verification()).toMatchObject({ verified: 2, byTicket: 1 });
    // Router 1 remembers only the channel it holds now (the first one's token is forgotten with it).
    expect(t.m1.verification().ownChannels).toBe(1);
    const hellos = [...t.received.entries()]
      .filter(([c]) => c !== first)
      .flatMap(([, batches]) => batches.filter((b) => isPeerHello(t, b)));
    const second = hellos.find((h) => h.subarray(48, 56).some((x) => x !== 0))!;
    expect(second, "router 1's second HELLO, with a ticket").toBeDefined();
    const before = sessionSnapshot(t);
    // Its channel is live: the replay must go through a CHALLENGE, which router 1 answers on its own channel only.
    const a = attack(t, [second]);
    await t.run(200);
    expect(t.m0.verification()).toMatchObject({ verified: 2, byTicket: 1, pending: 1 });
    await t.runUntil(() => t.m0.verification().refused.timeout === 1 && a.closed(), 'the replayed channel timed out', 6000);
    expect(sessionSnapshot(t)).toEqual(before);
    await stillDelivers(t, 20, 10);
  });

  it('a flood of channels claiming many addresses is bounded: at most maxPendingChannels held, no session made; a flood claiming router 1 at most PENDING_PER_ADDRESS', async () => {
    const t = await setup(10);
    const before = sessionSnapshot(t);
    const channels: { closed: () => boolean }[] = [];
    let maxPending = 0;
    for (let k = 0; k < 300; k++) {
      channels.push(attack(t, [encodeHello(V32, 1000 + k, { inc: 5, gen: k + 1 }, null, 0, `ghost-${k}`, token(k))]));
      if (k % 20 === 19) {
        await t.run(10);
        maxPending = Math.max(maxPending, t.m0.verification().pending);
      }
    }
    await t.run(50);
    const v = t.m0.verification();
    maxPending = Math.max(maxPending, v.pending);
    expect(maxPending).toBe(64); // the default maxPendingChannels
    expect(v.refused.pendingFull).toBe(300 - 64);
    expect([...t.m0.sessions().keys()]).toEqual([t.r1.nodeId]);
    await t.runUntil(() => t.m0.verification().pending === 0, 'every ghost channel timed out', 6000);
    expect(t.m0.verification().refused.timeout).toBe(64);
    expect(channels.every((c) => c.closed())).toBe(true);
    // Channels claiming router 1, opened faster than its denials come back: the table, right after each admission.
    let most = 0;
    let admitted = 0;
    const admit = ChannelVerifier.prototype.admit;
    vi.spyOn(ChannelVerifier.prototype, 'admit').mockImplementation(function (this: ChannelVerifier, ...args: Parameters<ChannelVerifier['admit']>) {
      admit.apply(this, args);
      admitted++;
      most = Math.max(most, this.stats().pending);
    });
    const id1 = nodeidOf(t.r1.nodeId);
    for (let k = 0; k < 20; k++) {
      attack(t, [encodeHello(V32, id1, { inc: 6, gen: k + 1 }, null, 0, t.r1.nodeId, token(500 + k))]);
    }
    await t.runUntil(() => t.m0.verification().pending === 0 && admitted >= 20, 'all refused');
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(PENDING_PER_ADDRESS);
    await t.runUntil(() => t.m0.verification().pending === 0, 'all refused');
    const w = t.m0.verification().refused;
    expect(w.evicted + w.denied).toBe(20);
    expect(sessionSnapshot(t)).toEqual(before);
    await stillDelivers(t, 10, 20);
  });
});

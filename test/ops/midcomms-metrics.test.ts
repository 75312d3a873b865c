/** midcommsCollector: the figures of real sessions between two routers, read on scrape. */
import { afterEach, describe, expect, it } from 'vitest';
import { midcommsCollector } from '../../src/cli/ops/midcomms-metrics.ts';
import { MetricsRegistry } from '../../src/cli/ops/metrics-registry.ts';
import { MIDCOMMS_FRAME_CMD, MIDCOMMS_SESSION_CMD, encodeAck, midcomms, nodeidOf, type Midcomms } from '../../src/services/midcomms/index.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { createMesh, until, type Mesh } from '../helpers/mesh.ts';
import { msg, msgNumber } from '../services/midcomms/fake-net.ts';
import { parseExposition, sum } from './helpers.ts';
import { closeMidcomms, midcommsReachable } from '../helpers/midcomms-mesh.ts';

let mesh: Mesh | null = null;
const services: Midcomms[] = [];
afterEach(async () => {
  await closeMidcomms(services, mesh);
  mesh = null;
});

/** Two linked routers with midcomms on one ManualClock, each scraped by its own registry. */
async function twoRouters() {
  mesh = createMesh(2, [[0, 1]]);
  const clock = new ManualClock();
  const [m0, m1] = mesh.routers.map((r) => midcomms(r, { clock })) as [Midcomms, Midcomms];
  services.push(m0, m1);
  await until(() => midcommsReachable(mesh!, 0, 1), 'midcomms span');
  const registry0 = new MetricsRegistry();
  registry0.register('midcomms', midcommsCollector(m0));
  const registry1 = new MetricsRegistry();
  registry1.register('midcomms', midcommsCollector(m1));
  return { clock, m0, m1, id0: mesh.routers[0]!.nodeId, id1: mesh.routers[1]!.nodeId, registry0, registry1 };
}

describe('midcomms metrics', () => {
  it('counts sent, delivered and acknowledged messages per peer session', async () => {
    const { clock, m0, m1, id0, id1, registry0: registry, registry1 } = await twoRouters();
    expect(sum(parseExposition(registry.render()), 'dmsg_midcomms_sessions')).toBe(0);

    const got: number[] = [];
    m1.session(id0).messages$.subscribe((m) => got.push(msgNumber(m)));
    const s = m0.session(id1);
    for (let i = 0; i < 40; i++) await s.send(msg(i));
    await until(() => got.length === 40, 'delivered');
    clock.advance(100); // the ACK timer
    await until(() => s.stats().queueMessages === 0, 'acknowledged');

    const p0 = parseExposition(registry.render());
    expect(sum(p0, 'dmsg_midcomms_sessions')).toBe(1);
    expect(sum(p0, 'dmsg_midcomms_messages_sent_total', { peer: id1 })).toBe(40);
    expect(sum(p0, 'dmsg_midcomms_queue_messages', { peer: id1 })).toBe(0);
    expect(sum(p0, 'dmsg_midcomms_acks_received_total', { peer: id1 })).toBeGreaterThan(0);
    expect(sum(p0, 'dmsg_midcomms_retransmits_total')).toBe(s.stats().retransmits);
    const p1 = parseExposition(registry1.render());
    expect(sum(p1, 'dmsg_midcomms_messages_delivered_total', { peer: id0 })).toBe(40);
    expect(sum(p1, 'dmsg_midcomms_acks_sent_total', { peer: id0 })).toBeGreaterThan(0);
  });

  it("shows the channel verifier's figures: channels proven, CHALLENGEs and PROOFs, refusals by reason", async () => {
    const { m0, m1, id0, id1, registry0, registry1 } = await twoRouters();

    // Router 0 opens the session's channel: router 1 challenges it, router 0 proves it.
    const got: number[] = [];
    m1.session(id0).messages$.subscribe((m) => got.push(msgNumber(m)));
    await m0.session(id1).send(msg(1));
    await until(() => got.length === 1, 'delivered over a verified channel');
    // A channel on router 0 whose first frame is not a HELLO: refused as notHello.
    const tx = mesh!.routers[1]!.open('midcomms', MIDCOMMS_SESSION_CMD, { node: id0 });
    tx.send(MIDCOMMS_FRAME_CMD, { aux: encodeAck(2, nodeidOf(id1), 0) });
    await until(() => m0.verification().refused.notHello === 1, 'the channel without a HELLO refused');

    for (const [registry, mc] of [[registry0, m0], [registry1, m1]] as const) {
      const p = parseExposition(registry.render());
      const v = mc.verification();
      expect(p.types.get('dmsg_midcomms_channels_verified_total')).toBe('counter');
      expect(p.types.get('dmsg_midcomms_channels_pending')).toBe('gauge');
      expect(sum(p, 'dmsg_midcomms_channels_verified_total')).toBe(v.verified);
      expect(sum(p, 'dmsg_midcomms_channels_verified_by_ticket_total')).toBe(v.byTicket);
      expect(sum(p, 'dmsg_midcomms_challenges_sent_total')).toBe(v.challengesSent);
      expect(sum(p, 'dmsg_midcomms_proofs_written_total')).toBe(v.proofsWritten);
      expect(sum(p, 'dmsg_midcomms_challenge_denials_sent_total')).toBe(v.denialsSent);
      expect(sum(p, 'dmsg_midcomms_proofs_unmatched_total')).toBe(v.proofsUnmatched);
      expect(sum(p, 'dmsg_midcomms_channels_pending')).toBe(v.pending);
      expect(sum(p, 'dmsg_midcomms_own_channels')).toBe(v.ownChannels);
      const refused = p.samples.filter((s) => s.name === 'dmsg_midcomms_channels_refused_total');
      expect(Object.fromEntries(refused.map((s) => [s.labels.reason, s.value]))).toEqual(v.refused);
    }
    const p0 = parseExposition(registry0.render());
    const p1 = parseExposition(registry1.render());
    expect(sum(p1, 'dmsg_midcomms_channels_verified_total'), "router 0's channel proven at router 1").toBeGreaterThanOrEqual(1);
    expect(sum(p1, 'dmsg_midcomms_challenges_sent_total')).toBeGreaterThanOrEqual(1);
    expect(sum(p0, 'dmsg_midcomms_proofs_written_total'), 'router 0 proved its channel').toBeGreaterThanOrEqual(1);
    expect(sum(p0, 'dmsg_midcomms_own_channels')).toBeGreaterThanOrEqual(1);
    expect(sum(p0, 'dmsg_midcomms_channels_refused_total', { reason: 'notHello' })).toBe(1);
    expect(sum(p0, 'dmsg_midcomms_channels_refused_total')).toBe(1);
  });
});

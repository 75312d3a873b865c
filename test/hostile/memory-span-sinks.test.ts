/**
 * Issue 7, attack 4 (third part): links that never read while thousands of
 * spans are relayed to them. Each sink gets a relayed LNK_SPAN transaction
 * per span, queued and never taken. Before the fix 20 sinks with 4 x 4096
 * spans took 1.44 GB (peak 1.85 GB). Daemon-wide budgets (queued bytes,
 * transactions) must bound it, shedding the sinks.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ATTACK_PEER_TYPE, HostilePeer } from '../helpers/hostile-peer.ts';
import { KEYS, MAX_LATENCY_MS, SAFETY_MS, finishAttack, since, size, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

const SINKS = size(8, 20);
const ADVERTISERS = size(2, 4);
const SPANS_PER_ADVERTISER = 4096;

describe(`hostile: ${SINKS} sinks that never read, ${ADVERTISERS} x ${SPANS_PER_ADVERTISER} spans relayed to them`, () => {
  it('budgets bound memory; the sinks lose their links, the bystander does not', async () => {
    const relay = await startHostileRelay({ config: size({ [KEYS.queuedBytes]: 16 << 20, [KEYS.transactions]: 20_000 }, {}) });
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const sinks: HostilePeer[] = [];
    const sinkIds: string[] = [];
    for (let s = 0; s < SINKS; s++) {
      const sink = await HostilePeer.connect(relay.port, { read: 'paused', label: `sink${s}` });
      sinkIds.push(await relay.connIdOf(sink.localPort));
      sink.sendConn({ peerMask: 1n << BigInt(ATTACK_PEER_TYPE) });
      sinks.push(sink);
    }
    const t0 = performance.now();
    let stalled: string | null = null;
    for (let a = 0; a < ADVERTISERS && relay.alive && stalled === null; a++) {
      const adv = await HostilePeer.connect(relay.port, { read: 'decode', keep: 0, label: `advertiser${a}` });
      // A relay too busy to even log the new link is the attack's effect: reported, not thrown.
      if ((await relay.connIdOf(adv.localPort).catch(() => null)) === null) {
        stalled = `advertiser ${a}: the relay did not take the connection within ${SAFETY_MS / 1000} s`;
        break;
      }
      adv.sendConn({ peerMask: 0n });
      await adv.writeFrames(SPANS_PER_ADVERTISER, (i) => adv.spanFrame(BigInt(i + 2), { service: `sunk${a}`, instance: `i${i}`, clusterId: randomUUID(), instanceId: randomUUID() }));
      // Barrier: relayed to every sink by now.
      if ((await adv.pingRtt(SAFETY_MS)) === null) stalled = `advertiser ${a}: no PING answer within ${SAFETY_MS / 1000} s`;
    }
    const sentMs = since(t0);
    const holdingRssMb = relay.sampleRss() ?? relay.rssMb;
    await bystander.roundTrip();
    const shed = sinkIds.filter((c) => relay.downReason(c) !== undefined);

    const broken = await finishAttack({
      attack: `4c ${SINKS} never-reading sinks, ${ADVERTISERS} x ${SPANS_PER_ADVERTISER} spans`,
      relay,
      bystander,
      effect: `${stalled ? `${stalled}; ` : ''}${shed.length}/${SINKS} sinks shed; RSS ${Math.round(baselineRssMb)} -> ${Math.round(holdingRssMb)} MB, peak ${Math.round(relay.peakRssMb)} MB`,
      timeToEffectMs: sentMs,
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + size(150, 300),
      extra: { sinks: SINKS, spans: ADVERTISERS * SPANS_PER_ADVERTISER, shed: shed.length, holdingRssMb: Math.round(holdingRssMb) },
    });
    expect(broken, relay.log()).toEqual([]);
    expect(stalled, 'the relay kept taking the advertisers').toBeNull();
  }, SAFETY_MS * 4);
});

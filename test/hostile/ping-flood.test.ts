/**
 * Issue 7, attack 1a: a PING flood from a peer that never reads. Every PING
 * queues a PING|REPLY the peer never takes; before the fix the relay died
 * when the queue passed maxQueuedBytes (a TransactionError LIMIT thrown out
 * of the socket's data handler). The peer that fills its own queue must
 * lose its own link, nothing else.
 */
import { describe, expect, it } from 'vitest';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { EffectWatch, KEYS, MAX_LATENCY_MS, SAFETY_MS, finishAttack, size, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

/** Send-queue budget given to the relay in the suite (reached after ~260k PINGs). */
const QUEUE_BUDGET = 16 << 20;
/** PINGs sent at most (64 bytes each): in suite 4x the budget's worth, full size 2.4 M (the relay died at ~1.15 M). */
const PINGS = size(4 * (QUEUE_BUDGET / 64), 2_400_000);

describe('hostile: PING flood from a peer that never reads', () => {
  it('closes the flooder\'s link, keeps the relay and the bystander alive', async () => {
    // In the suite a small queue budget makes the limit come soon; full size runs on the defaults.
    const relay = await startHostileRelay({ config: size({ [KEYS.queuedBytes]: QUEUE_BUDGET }, {}) });
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const peer = await HostilePeer.connect(relay.port, { read: 'paused' });
    const connId = await relay.connIdOf(peer.localPort);
    const block = peer.pingBlock(16); // 4096 PINGs, 256 KiB, seq-continuous when repeated
    const t0 = performance.now();
    const blocks = Math.ceil(PINGS / 4096);
    const watch = new EffectWatch(relay, connId, 'attacker link', `none after ${blocks * 4096} PINGs`, t0);
    const written = await peer.flood(blocks, () => block, t0 + SAFETY_MS);
    await watch.settle();

    const broken = await finishAttack({
      attack: '1a ping flood (never reads)',
      relay,
      bystander,
      effect: watch.effect,
      timeToEffectMs: watch.timeToEffectMs,
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + size(200, 300),
      attackerConnIds: [connId],
      extra: { pingsWritten: written * 4096, mibWritten: Math.round(peer.bytesOut / 2 ** 20) },
    });
    expect(broken, relay.log()).toEqual([]);
  }, SAFETY_MS * 3);
});


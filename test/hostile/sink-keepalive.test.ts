/**
 * Issue 7, attack 1d: a sink that does LNK_CONN, never reads, and sends a
 * PAD every 3 s (so the link timeout never fires) while spans are relayed to
 * it. A second attacker link churns spans (announce 4096, withdraw them,
 * again) so every round queues ~2.5 MB more for the sink. Before the fix,
 * once the sink's queue was full, the keepalive timer's PING (or a relay
 * DELETE) threw LIMIT and the relay died. The sink must lose its own link.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { ATTACK_PEER_TYPE, HostilePeer } from '../helpers/hostile-peer.ts';
import { EffectWatch, KEYS, MAX_LATENCY_MS, SAFETY_MS, finishAttack, size, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

const QUEUE_BUDGET = 8 << 20;
/** Spans per churn round (one link's default maxSpansPerLink). */
const SPANS = 4096;
/** Churn rounds at most: in suite ~4x the budget's worth, full size ~4x the 64 MiB default. */
const ROUNDS = size(24, 100);

/**
 * The attack against a relay with `config`. `attack` names it in the report;
 * `expectWhy`, if given, must be in the reason the sink's link closed.
 */
async function sinkAttack(attack: string, config: Record<string, unknown>, expectWhy?: string): Promise<void> {
  {
    const relay = await startHostileRelay({ config });
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const sink = await HostilePeer.connect(relay.port, { read: 'paused', label: 'sink' });
    const sinkId = await relay.connIdOf(sink.localPort);
    sink.sendConn({ peerMask: 1n << BigInt(ATTACK_PEER_TYPE) });
    const pad = setInterval(() => sink.send({ cmd: DMSG.LNK_PAD }), 3000);
    try {
      const churner = await HostilePeer.connect(relay.port, { read: 'decode', keep: 0, label: 'churner' });
      await relay.connIdOf(churner.localPort);
      churner.sendConn({ peerMask: 0n });
      const ids = Array.from({ length: SPANS }, () => [randomUUID(), randomUUID()] as const);

      const watch = new EffectWatch(relay, sinkId, 'sink link', `none after ${ROUNDS} rounds of ${SPANS} spans`);
      let rounds = 0;
      let msgid = 100n;
      const deadline = watch.t0 + SAFETY_MS;
      while (rounds < ROUNDS && watch.timeToEffectMs === null && !churner.isClosed && performance.now() < deadline) {
        const first = msgid;
        await churner.writeFrames(SPANS, (i) => churner.spanFrame(first + BigInt(i), { service: 'churn', instance: `i${i}`, clusterId: ids[i]![0], instanceId: ids[i]![1] }));
        await churner.writeFrames(SPANS, (i) => churner.frame({ cmd: (DMSG.LNK_ERROR | DMSGF.DELETE) >>> 0, msgid: first + BigInt(i) }));
        msgid += BigInt(SPANS);
        // One round at a time: the PING barrier says the relay has handled (and relayed) it.
        if ((await churner.pingRtt(SAFETY_MS)) === null) break;
        rounds++;
      }
      await watch.settle();

      const broken = await finishAttack({
        attack,
        relay,
        bystander,
        effect: watch.effect,
        timeToEffectMs: watch.timeToEffectMs,
        baselineRssMb,
        maxLatencyMs: MAX_LATENCY_MS,
        rssLimitMb: baselineRssMb + size(250, 400),
        attackerConnIds: [sinkId],
        extra: { rounds, spanMessagesPerRound: SPANS * 2 },
      });
      expect(broken, relay.log()).toEqual([]);
      if (expectWhy !== undefined) expect(watch.effect).toContain(expectWhy);
    } finally {
      clearInterval(pad);
    }
  }
}

describe('hostile: a sink that never reads, kept alive with PADs, while spans churn', () => {
  it("closes the sink's link, keeps the relay and the bystander alive", async () => {
    await sinkAttack('1d PAD-kept sink (never reads) + span churn', size({ [KEYS.queuedBytes]: QUEUE_BUDGET }, {}));
  }, SAFETY_MS * 3);

  // Before: the relay's DELETEs of churned spans, never answered, filled the
  // sink's transaction table; later relay opens failed (LIMIT) while the
  // link stayed up and the unanswered transactions held memory (full size,
  // default budgets: never shed in 100 rounds, RSS 612 MB). A small
  // per-link table (2 rounds' worth) and the default byte budgets: the
  // table fills long before any byte budget, and the sink must be shed for it.
  it('sheds the sink whose transaction table fills with DELETEs it never answers (default byte budgets)', async () => {
    await sinkAttack('1d PAD-kept sink, unanswered DELETEs', size({ [KEYS.linkTransactions]: 2 * SPANS }, {}), 'has not answered');
  }, SAFETY_MS * 3);
});

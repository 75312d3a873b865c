/**
 * Issue 7, attack 1b: 1 MiB echo transactions from a peer that never reads.
 * The relay's echo service sends each 1 MiB back into a queue nobody
 * empties; before the fix `tx.send` in echo-service.ts threw LIMIT out of an
 * rxjs subscriber and the relay died (at 94 MiB). The flooder must lose its
 * own link.
 */
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { EffectWatch, KEYS, MAX_LATENCY_MS, SAFETY_MS, finishAttack, size, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

const QUEUE_BUDGET = 16 << 20;
/** 1 MiB transactions sent at most: in suite 4x the budget, full size 200 (the relay died after 94). */
const TRANSACTIONS = size(64, 200);
const AUX = new Uint8Array(1 << 20).fill(0x5a);

describe('hostile: 1 MiB echo transactions from a peer that never reads', () => {
  it("closes the flooder's link, keeps the relay and the bystander alive", async () => {
    const relay = await startHostileRelay({ config: size({ [KEYS.queuedBytes]: QUEUE_BUDGET }, {}) });
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const peer = await HostilePeer.connect(relay.port, { read: 'decode' });
    const connId = await relay.connIdOf(peer.localPort);
    peer.sendConn({ peerMask: 1n << 4n });
    const circuit = await peer.spanFromRelay('echo');
    expect(circuit, 'the relay relays its echo span to the attacker').not.toBeNull();
    peer.pauseReading();

    const watch = new EffectWatch(relay, connId, 'attacker link', `none after ${TRANSACTIONS} MiB`);
    // CREATE|DELETE with 1 MiB on the relay's echo span: the echo answers with the same 1 MiB.
    const cmd = (DMSG.DBG_SHELL | DMSGF.CREATE | DMSGF.DELETE | DMSGF.REVCIRC) >>> 0;
    let sent = 0;
    const deadline = watch.t0 + SAFETY_MS;
    while (sent < TRANSACTIONS && !peer.isClosed && performance.now() < deadline) {
      let ok = true;
      for (const c of peer.frameChunks({ cmd, msgid: BigInt(sent + 100), circuit: circuit! }, undefined, AUX)) ok = peer.write(c) && ok;
      sent++;
      if (!ok) await peer.drained();
    }
    await watch.settle();

    const broken = await finishAttack({
      attack: '1b 1 MiB echo transactions (never reads)',
      relay,
      bystander,
      effect: watch.effect,
      timeToEffectMs: watch.timeToEffectMs,
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + size(250, 400),
      attackerConnIds: [connId],
      extra: { transactionsSent: sent, mibWritten: Math.round(peer.bytesOut / 2 ** 20) },
    });
    expect(broken, relay.log()).toEqual([]);
  }, SAFETY_MS * 3);
});

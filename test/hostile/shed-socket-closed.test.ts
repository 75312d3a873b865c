/**
 * A shed link's socket is destroyed, not left open: the hostile suite saw a
 * 4b attacker (transactions past the budget) that the relay had shed while it
 * was still sending, whose socket did not see the close within 30 s. Here
 * the attacker keeps writing CREATEs after the shed; its socket must close
 * (the relay destroys it: a reset, since unread bytes are pending), and the
 * relay and the bystander must carry on.
 */
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { KEYS, MAX_LATENCY_MS, SAFETY_MS, finishAttack, since, size, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

const TRANSACTION_BUDGET = size(5_000, 30_000);
const BATCH = 2_000;
/** Batches at most: well past the budget, so the attacker is still sending when shed. */
const MAX_BATCHES = size(20, 60);

describe('hostile: a shed attacker that keeps sending', () => {
  it("sees its socket closed by the relay soon after the shed", async () => {
    const relay = await startHostileRelay({ config: { [KEYS.transactions]: TRANSACTION_BUDGET } });
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const peer = await HostilePeer.connect(relay.port, { read: 'decode', keep: 0, label: 'holder' });
    const connId = await relay.connIdOf(peer.localPort);
    peer.sendConn({ peerMask: 0n });

    let shedAt: number | null = null;
    const down = relay.waitLinkDown(connId, SAFETY_MS).then((r) => {
      if (r !== null) shedAt = performance.now();
      return r;
    });
    // Keep sending CREATEs (fresh ids) until our socket closes or the bound.
    const t0 = performance.now();
    let batches = 0;
    let batchesAfterShed = 0;
    while (batches < MAX_BATCHES && !peer.isClosed) {
      const first = batches * BATCH + 1;
      await peer.writeFrames(BATCH, (i) => peer.frame({ cmd: (DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0, msgid: BigInt(first + i) }));
      batches++;
      if (shedAt !== null) batchesAfterShed++;
    }
    const why = await down;
    const closed = await Promise.race([peer.closed, new Promise<null>((r) => setTimeout(() => r(null), SAFETY_MS))]);
    const closeAfterShedMs = closed !== null && shedAt !== null ? Math.round(closed.at - shedAt) : null;

    const broken = await finishAttack({
      attack: 'shed attacker keeps sending: its socket must close',
      relay,
      bystander,
      effect: `link ${why === null ? 'not shed' : 'shed'}; attacker socket ${closed === null ? 'still open' : `closed (${closed.error ?? 'clean'}) ${closeAfterShedMs} ms after the shed`}`,
      timeToEffectMs: shedAt === null ? null : Math.round(shedAt - t0),
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + size(150, 300),
      attackerConnIds: [connId],
      extra: { batches, batchesAfterShed, closeAfterShedMs, since: since(t0) },
    });
    expect(broken, relay.log()).toEqual([]);
    expect(why, 'the relay shed the attacker').not.toBeNull();
    expect(closed, "the attacker's socket saw the close").not.toBeNull();
  }, SAFETY_MS * 3);
});

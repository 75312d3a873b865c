/**
 * Issue 7, attack 4 (second part): links holding 65,000 transactions each.
 * Every CREATE of an unknown top-level command is refused (NOSUPP), but the
 * transaction stays half-open until the peer's DELETE, which never comes.
 * Before the fix 8 such links took the relay from 102 to 645 MB (1.1 GB at
 * teardown) with ~4 MB of traffic. A daemon-wide transaction budget must
 * bound it, shedding the largest holder first.
 */
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { KEYS, MAX_LATENCY_MS, SAFETY_MS, finishAttack, since, size, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

const PER_LINK = 65_000;
const LINKS = size(2, 8);
/** In the suite: well below one link's 65,000, so the first holder is shed already. */
const TRANSACTION_BUDGET = 30_000;

describe(`hostile: ${LINKS} links holding ${PER_LINK} transactions each`, () => {
  it('a transaction budget bounds memory; the holders lose their links, the bystander does not', async () => {
    const relay = await startHostileRelay({ config: size({ [KEYS.transactions]: TRANSACTION_BUDGET }, {}) });
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const t0 = performance.now();
    const peers: HostilePeer[] = [];
    const connIds: string[] = [];
    const perLinkMs: number[] = [];
    for (let l = 0; l < LINKS && relay.alive; l++) {
      const peer = await HostilePeer.connect(relay.port, { read: 'decode', keep: 0, label: `holder${l}` });
      const connId = await relay.connIdOf(peer.localPort);
      connIds.push(connId);
      peers.push(peer);
      peer.sendConn({ peerMask: 0n });
      await peer.writeFrames(PER_LINK, (i) => peer.frame({ cmd: (DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0, msgid: BigInt(i + 1) }));
      const tl = performance.now();
      // Barrier: the PING answered, or the relay's log saying it shed the link
      // (our socket may take a while to notice).
      await Promise.race([peer.pingRtt(SAFETY_MS), relay.waitLinkDown(connId, SAFETY_MS)]);
      perLinkMs.push(since(tl));
    }
    const sentMs = since(t0);
    const holdingRssMb = relay.sampleRss() ?? relay.rssMb;
    const closedByRelay = connIds.filter((c) => relay.downReason(c) !== undefined);
    // Teardown: the links go, the relay frees 65,000 transactions each.
    const t1 = performance.now();
    for (const p of peers) p.destroy();
    for (const c of connIds) await relay.waitLinkDown(c, SAFETY_MS);
    const teardownMs = since(t1);
    await bystander.roundTrip();

    const broken = await finishAttack({
      attack: `4b ${LINKS} links x ${PER_LINK} open transactions`,
      relay,
      bystander,
      effect: `${closedByRelay.length}/${LINKS} links shed by the relay; RSS ${Math.round(baselineRssMb)} -> ${Math.round(holdingRssMb)} MB holding, peak ${Math.round(relay.peakRssMb)} MB (teardown ${teardownMs} ms)`,
      timeToEffectMs: sentMs,
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + size(150, 300),
      extra: { links: LINKS, perLink: PER_LINK, perLinkBarrierMs: perLinkMs, closedByRelay, holdingRssMb: Math.round(holdingRssMb), teardownMs },
    });
    expect(broken, relay.log()).toEqual([]);
    // 65,000 on one link cannot fit a budget of 30,000: holders must have been shed.
    expect(closedByRelay.length, 'links shed while over the transaction budget').toBeGreaterThan(0);
  }, SAFETY_MS * 4);
});

/**
 * Issue 7, attack 5: spans before LNK_CONN. A peer that never sent LNK_CONN
 * could advertise spans that the relay accepted and relayed ("span up
 * x/y"). Until the peer's CONN has arrived, everything but LNK_CONN (and
 * PAD, PING, AUTH) must be refused. A second peer that does send LNK_CONN
 * first is the control: the same kind of span from it does reach the
 * bystander, so "not seen" is not an artefact of the test.
 */
import { describe, expect, it } from 'vitest';
import { SERVICE_PEER_TYPE } from '../../src/span/router.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { MAX_LATENCY_MS, SAFETY_MS, finishAttack, since, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

describe('hostile: spans and shell commands before LNK_CONN', () => {
  it('a span sent before LNK_CONN is neither accepted nor relayed', async () => {
    const relay = await startHostileRelay({});
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const t0 = performance.now();
    const early = await HostilePeer.connect(relay.port, { read: 'decode' });
    const earlyId = await relay.connIdOf(early.localPort);
    early.write(early.spanFrame(2n, { service: 'early', instance: 'x', peerType: SERVICE_PEER_TYPE }));
    // Barrier: once the PING is answered (or the link is closed), the relay has handled the span.
    await early.pingRtt(SAFETY_MS);

    // The control: LNK_CONN first, then the same kind of span.
    const polite = await HostilePeer.connect(relay.port, { read: 'decode' });
    await relay.connIdOf(polite.localPort);
    polite.sendConn({ peerMask: 0n });
    polite.write(polite.spanFrame(2n, { service: 'polite', instance: 'y', peerType: SERVICE_PEER_TYPE }));
    const politeSeen = await bystander.router.waitForSpan('polite', AbortSignal.timeout(SAFETY_MS)).then(() => true, () => false);
    // The bystander's link is ordered: whatever the relay relayed before the echo reply has arrived.
    await bystander.roundTrip();

    const earlySpanDelete = early.received.find((m) => (m.header.cmd & DMSGF.DELETE) !== 0 && m.header.msgid === 2n);
    const refusedHow = early.isClosed ? `link closed: ${relay.downReason(earlyId) ?? early.closedInfo?.error}` : earlySpanDelete ? `span refused, error 0x${earlySpanDelete.header.error.toString(16)}` : 'no refusal seen';
    const earlySeen = bystander.router.spans('early').length > 0;
    const spanUpLogged = (await relay.waitForLine(/span up early\//, 0)) !== null;
    // Control for the log check: the relay does log a span it accepts.
    const controlLogged = (await relay.waitForLine(/span up polite\//, 0)) !== null;

    const broken = await finishAttack({
      attack: '5 spans before LNK_CONN',
      relay,
      bystander,
      effect: `early span ${earlySeen || spanUpLogged ? 'ACCEPTED and relayed' : 'not accepted'} (${refusedHow}); control span ${politeSeen ? 'relayed' : 'NOT relayed'}`,
      timeToEffectMs: since(t0),
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + 150,
    });
    expect(broken, relay.log()).toEqual([]);
    expect(politeSeen, 'control: a span after LNK_CONN reaches the bystander').toBe(true);
    expect(controlLogged, 'control: the relay logs "span up polite/y"').toBe(true);
    expect(spanUpLogged, 'the relay logged "span up early/x"').toBe(false);
    expect(earlySeen, 'the bystander sees the span sent before LNK_CONN').toBe(false);
  }, SAFETY_MS * 3);

  it('a DBG_SHELL command before LNK_CONN is not answered', async () => {
    const relay = await startHostileRelay({});
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const t0 = performance.now();
    const early = await HostilePeer.connect(relay.port, { read: 'decode' });
    await relay.connIdOf(early.localPort);
    early.send({ cmd: DMSG.DBG_SHELL }, undefined, new TextEncoder().encode('tree\0'));
    await early.pingRtt(SAFETY_MS);
    const answered = early.received.some((m) => m.header.cmd === (DMSG.DBG_SHELL | DMSGF.REPLY));

    const broken = await finishAttack({
      attack: '5 DBG_SHELL before LNK_CONN',
      relay,
      bystander,
      effect: answered ? 'tree ANSWERED before LNK_CONN' : early.isClosed ? 'link closed' : 'not answered',
      timeToEffectMs: since(t0),
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + 150,
    });
    expect(broken, relay.log()).toEqual([]);
    expect(answered, 'DBG_SHELL answered before LNK_CONN').toBe(false);
  }, SAFETY_MS * 3);
});

/**
 * Issue 7, attack 1c: 4096 spans with long labels, then `DBG_SHELL tree`.
 * The tree is ~1.7 MB of text, more than one message's 1 MiB aux; before the
 * fix `sendOneWay` threw InvalidArgumentError out of the messages$
 * subscriber and the relay died. The reply must be split (one reply per
 * line, as libdmsg does) or truncated with a note.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { HostilePeer } from '../helpers/hostile-peer.ts';
import { MAX_LATENCY_MS, SAFETY_MS, finishAttack, since, size, startBystander, startHostileRelay, useHostileCleanup } from '../helpers/hostile-relay.ts';

useHostileCleanup();

/** Spans announced (the relay's default maxSpansPerLink); their tree is ~1.7 MB. */
const SPANS = 4096;

describe('hostile: 4096 long-label spans, then DBG_SHELL tree', () => {
  it('answers the tree without exceeding a message, and stays up', async () => {
    const relay = await startHostileRelay({});
    const baselineRssMb = relay.sampleRss()!;
    const bystander = await startBystander(relay);

    const peer = await HostilePeer.connect(relay.port, { read: 'decode', keep: 100 });
    const connId = await relay.connIdOf(peer.localPort);
    peer.sendConn();
    await peer.writeFrames(SPANS, (i) => {
      const tag = String(i).padStart(5, '0');
      return peer.spanFrame(BigInt(i + 2), { service: `s${tag}`.padEnd(127, 'x'), instance: `i${tag}`.padEnd(127, 'y'), clusterId: randomUUID(), instanceId: randomUUID() });
    });
    const rtt = await peer.pingRtt(SAFETY_MS);
    expect(rtt, 'the relay took the spans (PING barrier)').not.toBeNull();

    const t0 = performance.now();
    const replies: string[] = [];
    let replyBytes = 0;
    let largestReply = 0;
    // Counted as they come (`received` keeps only the first messages: the span acks).
    peer.onMessage = (m) => {
      if (m.header.cmd !== (DMSG.DBG_SHELL | DMSGF.REPLY)) return;
      replies.push(new TextDecoder().decode(m.aux).replace(/\0+$/, ''));
      replyBytes += m.aux.length;
      largestReply = Math.max(largestReply, m.aux.length);
    };
    peer.send({ cmd: DMSG.DBG_SHELL }, undefined, new TextEncoder().encode('tree\0'));
    // Collect DBG_SHELL replies until a PING barrier after the request comes back (or the link/relay ends).
    const barrier = peer.pingRtt(SAFETY_MS);
    const answered = await Promise.race([barrier.then((ms) => ms !== null), relay.exited.then(() => false)]);
    const effect = !relay.alive ? 'relay exited' : peer.isClosed ? `attacker link closed: ${relay.downReason(connId) ?? peer.closedInfo?.error}` : `${replies.length} replies, ${replyBytes} bytes`;

    const broken = await finishAttack({
      attack: '1c 4096 long-label spans + DBG_SHELL tree',
      relay,
      bystander,
      effect,
      timeToEffectMs: since(t0),
      baselineRssMb,
      maxLatencyMs: MAX_LATENCY_MS,
      rssLimitMb: baselineRssMb + size(250, 400),
      extra: { spans: SPANS, replies: replies.length, replyBytes, largestReply },
    });
    expect(broken, relay.log()).toEqual([]);
    expect(answered, 'the attacker\'s link still answers PING after the tree').toBe(true);
    expect(replies.length, 'the tree is answered').toBeGreaterThan(0);
    expect(largestReply, 'every reply fits one message').toBeLessThanOrEqual(1 << 20);
    const text = replies.join('\n');
    // Either every span is listed or the reply says it was cut short.
    const listed = (text.match(/^cluster /gm) ?? []).length;
    expect(listed === SPANS + 1 || /truncat|more|\.\.\./i.test(text), `tree lists ${listed} clusters and has no truncation note`).toBe(true);
  }, SAFETY_MS * 3);
});

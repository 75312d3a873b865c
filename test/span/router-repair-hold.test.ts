/**
 * Repair holds inside a Router (repair-hold.ts has the unit tests): a dead
 * offer pruned by a root cause before its sender closed it holds its
 * instance (no `down` yet); the sender's DELETE ends the hold, or, if it
 * never comes, the hold runs out after REPAIR_HOLD_MS on the router's
 * injected clock (never the system clock).
 *
 * A raw peer X sends two spans over the same upstream link O→A, then closes
 * one of them naming that link as lost (root-cause notification).
 *
 * The router here runs without the down grace (downGraceMs 0), so a span
 * is reported `down` as soon as it is planned without a path: these tests
 * see when the hold lets it be planned (down-grace is tested on its own).
 */
import { describe, expect, it } from 'vitest';
import { Router, type SpanEvent } from '../../src/span/router.ts';
import { encodePathRecord } from '../../src/span/path-record.ts';
import { REPAIR_HOLD_MS } from '../../src/span/repair-hold.ts';
import { encodeRootCause, type RootCause } from '../../src/span/root-cause.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { DMSG, DMSGF, DMSG_PEER } from '../../src/wire/constants.ts';
import { encodeLnkConn } from '../../src/wire/ext/lnk-conn.ts';
import { encodeLnkSpan } from '../../src/wire/ext/lnk-span.ts';
import { RawPeer } from '../helpers/raw-peer.ts';
import { nodeIdOf, until } from '../helpers/mesh.ts';

const ORIGIN = nodeIdOf(0x10);
const A = nodeIdOf(0x11);
const X = nodeIdOf(0x12);
const INC_A = 0x1234;
const LOST: RootCause = { a: ORIGIN, b: A, inc: INC_A };

async function setup(): Promise<{ r: Router; p: RawPeer; clock: ManualClock; events: string[]; a: bigint; b: bigint }> {
  const clock = new ManualClock();
  const r = new Router({ name: 'hub', nodeId: nodeIdOf(0x100), localRnss: 1, clock, downGraceMs: 0, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
  const events: string[] = [];
  r.spans$.subscribe((e: SpanEvent) => events.push(`${e.type} ${e.span.instance}`));
  const [s0, s1] = memoryPair();
  r.attach(s0);
  const p = new RawPeer(s1);
  p.send({ cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: 1n }, encodeLnkConn({ mediaId: X, peerMask: 0xffffffffffffffffn, peerType: DMSG_PEER.ROUTER, protoVersion: 1, peerLabel: 'x' }));
  // Two instances of one service at ORIGIN, both reached over ORIGIN→A→X (dist 2 as X sends them).
  const span = (msgid: bigint, instance: string, nodeHex: string): void => {
    const ext = encodeLnkSpan({ peerId: nodeIdOf(0xaa), pfsId: nodeIdOf(Number.parseInt(nodeHex, 16)), peerType: 4, protoVersion: 1, peerLabel: 'svc', pfsLabel: instance, dist: 2 });
    p.send({ cmd: (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0, msgid }, ext, encodePathRecord([ORIGIN, A, X], 7, [0, INC_A, 0x55]));
  };
  span(0x200n, 'a', 'a1');
  span(0x201n, 'b', 'b1');
  await until(() => events.length === 2, 'both spans');
  expect(events).toEqual(['up a', 'up b']);
  return { r, p, clock, events, a: 0x200n, b: 0x201n };
}

/** X closes span `msgid` (an opener's DELETE), naming `cause` as lost when given. */
function close(p: RawPeer, msgid: bigint, cause?: RootCause): void {
  p.send({ cmd: (DMSG.LNK_ERROR | DMSGF.DELETE) >>> 0, msgid }, undefined, cause ? encodeRootCause(cause) : undefined);
}

describe('repair holds in the Router', () => {
  it('a pruned offer still open holds its instance until its sender closes it (no timer left running)', async () => {
    const { r, p, clock, events, a, b } = await setup();
    const timers = clock.pending;
    close(p, b, LOST);
    await until(() => events.includes('down b'), 'b goes down');
    // a's offer crosses the lost link too, but X has not closed it: a waits for X's replacement.
    expect(r.stats()).toMatchObject({ repairHolds: 1, repairHoldsExpired: 0 });
    expect(clock.pending).toBe(timers + 1);
    expect(events).toEqual(['up a', 'up b', 'down b']);
    close(p, a);
    await until(() => events.includes('down a'), 'a goes down once X closed it');
    expect(r.stats()).toMatchObject({ repairHolds: 0, repairHoldsExpired: 0 });
    expect(clock.pending).toBe(timers);
    await r.close();
  });

  it('a hold whose sender never closes its offer runs out after REPAIR_HOLD_MS on the injected clock', async () => {
    const { r, p, clock, events, b } = await setup();
    close(p, b, LOST);
    await until(() => events.includes('down b'), 'b goes down');
    expect(r.stats().repairHolds).toBe(1);
    clock.advance(REPAIR_HOLD_MS - 1);
    await p.roundTrip();
    expect(r.stats()).toMatchObject({ repairHolds: 1, repairHoldsExpired: 0 });
    expect(events).not.toContain('down a');
    clock.advance(1);
    expect(r.stats()).toMatchObject({ repairHolds: 0, repairHoldsExpired: 1 });
    expect(events).toEqual(['up a', 'up b', 'down b', 'down a']);
    await r.close();
  });

  it('close() stops the timers of holds still waiting', async () => {
    const { r, p, clock, events, b } = await setup();
    const timers = clock.pending;
    close(p, b, LOST);
    await until(() => events.includes('down b'), 'b goes down');
    expect(clock.pending).toBe(timers + 1);
    await r.close();
    expect(r.stats().repairHolds).toBe(0);
    expect(clock.pending).toBe(timers);
  });
});

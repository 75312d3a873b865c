/**
 * Losing a link that carried many spans (issue 7 item 3): the spans leave
 * the table without a walk of the whole table per span (counted: calls to
 * the table's full walks stay constant as the span count grows), and the
 * replanning they cause runs in batches, yielding the event loop between
 * them (counted: a callback queued right after the cut runs while relays
 * are still being closed). Timing is in bench/span-drop.ts, not here.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Router } from '../../src/span/router.ts';
import { SpanTable } from '../../src/span/span-table.ts';
import { REPLAN_BATCH } from '../../src/span/replan-queue.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { DMSG, DMSGF, DMSG_PEER } from '../../src/wire/constants.ts';
import { encodeLnkConn } from '../../src/wire/ext/lnk-conn.ts';
import { encodeLnkSpan } from '../../src/wire/ext/lnk-span.ts';
import { RawPeer } from '../helpers/raw-peer.ts';
import { nodeIdOf, until } from '../helpers/mesh.ts';

const IOCOM = { pingIntervalMs: 0, linkTimeoutMs: 0, maxTransactions: 1 << 16 };

function rawPeer(r: Router, index: number, wantSpans: boolean): { peer: RawPeer; cut: () => void } {
  const [a, b] = memoryPair();
  const link = r.attach(a);
  const peer = new RawPeer(b);
  peer.send({ cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: 1n }, encodeLnkConn({ mediaId: nodeIdOf(index), peerMask: wantSpans ? 0xffffffffffffffffn : 0n, peerType: DMSG_PEER.ROUTER, protoVersion: 1, pfsMask: 0xffffffffffffffffn, pfsLabel: `raw${index}` }));
  return { peer, cut: () => link.iocom.destroy() };
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Spans in, link cut; what the drop cost in full-table walks and batches. */
async function drop(n: number): Promise<{ walks: number; relaysLeftAfterOneTurn: number }> {
  const hub = new Router({ name: 'hub', nodeId: nodeIdOf(1), iocom: IOCOM });
  const source = rawPeer(hub, 2, false);
  const sink = rawPeer(hub, 3, true);
  for (let i = 0; i < n; i++) {
    source.peer.send({ cmd: (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0, msgid: BigInt(2 + i) }, encodeLnkSpan({ peerId: nodeIdOf(0xaa), pfsId: nodeIdOf(0x100000 + i), peerType: 4, protoVersion: 1, peerLabel: `svc${i % 3}`, pfsLabel: `i${i}` }));
  }
  await until(() => hub.stats().relays === n, `${n} spans relayed to the sink`);
  const walks = vi.spyOn(SpanTable.prototype, 'nodes');
  const clusters = vi.spyOn(SpanTable.prototype, 'clusters');
  const find = vi.spyOn(SpanTable.prototype, 'findService');
  let relaysLeftAfterOneTurn = -1;
  source.cut();
  setImmediate(() => {
    relaysLeftAfterOneTurn = hub.stats().relays;
  });
  await until(() => hub.stats().relays === 0 && hub.stats().spans === 0, 'every relay closed');
  const deletes = () => sink.peer.received.filter((m) => (m.header.cmd & DMSGF.DELETE) !== 0 && (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.LNK_ERROR).length;
  await until(() => deletes() >= n, 'the sink got every DELETE');
  const result = { walks: walks.mock.calls.length + clusters.mock.calls.length + find.mock.calls.length, relaysLeftAfterOneTurn };
  vi.restoreAllMocks();
  await hub.close();
  return result;
}

describe('dropping a link that carries many spans', () => {
  it('costs no table walk per span, and yields the event loop between replan batches', async () => {
    const small = await drop(256);
    const large = await drop(4 * REPLAN_BATCH);
    // A constant number of full walks (none per span), whatever the count.
    expect(small.walks).toBeLessThanOrEqual(2);
    expect(large.walks).toBe(small.walks);
    // One event-loop turn after the cut, most relays of the large drop are still open: the work is batched.
    expect(large.relaysLeftAfterOneTurn).toBeGreaterThan(REPLAN_BATCH);
    expect(small.relaysLeftAfterOneTurn).toBeLessThanOrEqual(256);
  }, 60_000);
});

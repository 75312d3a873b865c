/**
 * What a peer can make a Router do with bad or excessive input: spans past
 * maxSpansPerLink / maxSpansTotal, malformed span fields and path records, a
 * second LNK_CONN. Each is refused on its own (an error reply that closes
 * the span), logged, and the link and everyone else keep being served.
 * Also DBG_SHELL `help`, `tree`, `links` and an unknown command.
 */
import { describe, expect, it } from 'vitest';
import { Router, type RouterOptions } from '../../src/span/router.ts';
import { encodePathRecord } from '../../src/span/path-record.ts';
import { SHELL_MAX_LINES, SHELL_MAX_LINE_BYTES } from '../../src/span/shell.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { DMSG, DMSGF, DMSG_ERR, DMSG_PEER } from '../../src/wire/constants.ts';
import { encodeLnkConn } from '../../src/wire/ext/lnk-conn.ts';
import { encodeLnkSpan } from '../../src/wire/ext/lnk-span.ts';
import type { Message } from '../../src/wire/message.ts';
import { RawPeer } from '../helpers/raw-peer.ts';
import { nodeIdOf, until } from '../helpers/mesh.ts';

const ROUTER_ID = nodeIdOf(0x100);
const ACK = (DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.REPLY | DMSGF.REVTRANS) >>> 0;
const REFUSAL = (DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.DELETE | DMSGF.REPLY | DMSGF.REVTRANS) >>> 0;
const enc = new TextEncoder();
const dec = new TextDecoder();

function router(opts: RouterOptions = {}): { r: Router; log: string[] } {
  const log: string[] = [];
  const r = new Router({ name: 'hub', nodeId: ROUTER_ID, localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 }, log: (l) => log.push(l), ...opts });
  return { r, log };
}

/** A raw peer on a new link of `r`, after its LNK_CONN (seed layout, a node id of its own). */
function rawPeer(r: Router, index: number): RawPeer {
  const [a, b] = memoryPair();
  r.attach(a);
  const p = new RawPeer(b);
  p.send({ cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: 1n }, encodeLnkConn({ mediaId: nodeIdOf(index), peerMask: ~0n & 0xffffffffffffffffn, peerType: DMSG_PEER.ROUTER, protoVersion: 1, peerLabel: `raw${index}` }));
  return p;
}

let nextMsgid = 0x100n;
/** Send a LNK_SPAN CREATE; returns its msgid. */
function sendSpan(p: RawPeer, instance: string, over: Record<string, unknown> = {}, aux?: Uint8Array): bigint {
  const msgid = nextMsgid++;
  const ext = encodeLnkSpan({ peerId: '00000000-0000-4000-8000-0000000000aa', pfsId: `00000000-0000-4000-8000-${(Number(msgid) & 0xffffff).toString(16).padStart(12, '0')}`, peerType: 4, protoVersion: 1, peerLabel: 'raw-service', pfsLabel: instance, ...over });
  p.send({ cmd: (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0, msgid }, ext, aux);
  return msgid;
}

/** The first message the router sent in the transaction `msgid` the peer opened. */
async function answer(p: RawPeer, msgid: bigint): Promise<Message> {
  await p.until(() => p.received.some((m) => m.header.msgid === msgid && (m.header.cmd & DMSGF.REVTRANS) !== 0), `answer to 0x${msgid.toString(16)}`);
  return p.received.find((m) => m.header.msgid === msgid && (m.header.cmd & DMSGF.REVTRANS) !== 0)!;
}

function expectAck(m: Message): void {
  expect(m.header.cmd >>> 0, 'ack: LNK_ERROR|CREATE|REPLY|REVTRANS').toBe(ACK);
  expect(m.header.error).toBe(0);
}

function expectRefused(m: Message, error: number): void {
  expect(m.header.cmd >>> 0, 'refusal: LNK_ERROR|CREATE|DELETE|REPLY|REVTRANS').toBe(REFUSAL);
  expect(m.header.error).toBe(error);
}

describe('span limits', () => {
  it('refuses spans past maxSpansPerLink and maxSpansTotal, logs them, and keeps serving everyone', async () => {
    const { r, log } = router({ maxSpansPerLink: 3, maxSpansTotal: 5 });
    const a = rawPeer(r, 1);
    const fromA = ['a0', 'a1', 'a2', 'a3', 'a4'].map((i) => sendSpan(a, i));
    const answersA = await Promise.all(fromA.map((id) => answer(a, id)));
    answersA.slice(0, 3).forEach(expectAck);
    answersA.slice(3).forEach((m) => expectRefused(m, DMSG_ERR.PARAM));
    expect(log.filter((l) => /refused span raw-service\/a[34]: .*maxSpansPerLink/.test(l))).toHaveLength(2);

    const b = rawPeer(r, 2);
    const fromB = ['b0', 'b1', 'b2'].map((i) => sendSpan(b, i));
    const answersB = await Promise.all(fromB.map((id) => answer(b, id)));
    answersB.slice(0, 2).forEach(expectAck);
    expectRefused(answersB[2]!, DMSG_ERR.PARAM);
    expect(log.filter((l) => /refused span raw-service\/b2: .*maxSpansTotal/.test(l))).toHaveLength(1);
    expect(r.stats()).toMatchObject({ spans: 5, received: 5, spansRefused: 3 });
    expect(r.spans().map((s) => s.instance).sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);

    // Both links stay up; a third, a Router, gets all five accepted spans relayed and reaches them.
    expect(r.links.every((l) => l.iocom.isOpen)).toBe(true);
    const far = new Router({ name: 'far', nodeId: nodeIdOf(0x200), iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    const [x, y] = memoryPair();
    r.attach(x);
    far.attach(y);
    await until(() => far.spans().length === 5, 'far sees the five accepted spans');
    const target = far.spans().find((s) => s.instance === 'a1')!;
    expect(target.dist).toBe(1);
    far.open(target, DMSG.BLK_OPEN, { aux: enc.encode('hi') });
    const opened = await a.until(() => a.received.some((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.BLK_OPEN), 'A gets the transaction').then(() => a.received.find((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.BLK_OPEN)!);
    expect(opened.header.circuit).toBe(fromA[1]);
    expect(dec.decode(opened.aux)).toBe('hi');

    // A withdraws one: room for one more span on A.
    a.send({ cmd: (DMSG.LNK_ERROR | DMSGF.DELETE) >>> 0, msgid: fromA[0]! });
    await until(() => r.stats().received === 4, 'a0 gone');
    expectAck(await answer(a, sendSpan(a, 'a5')));
    await until(() => far.spans().some((s) => s.instance === 'a5'), 'a5 reaches far');
    await far.close();
    await r.close();
  });
});

describe('malformed spans and CONNs', () => {
  it('refuses a span with bad fields or a bad path record, one by one; the link stays up', async () => {
    const { r, log } = router({ maxPathLength: 4 });
    const p = rawPeer(r, 1);
    const cases: Array<{ what: string; id: bigint; error: number }> = [
      { what: 'peer_type 64 (not 0..63)', id: sendSpan(p, 'x1', { peerType: 64 }), error: DMSG_ERR.PARAM },
      { what: 'peer_type 200', id: sendSpan(p, 'x2', { peerType: 200 }), error: DMSG_ERR.PARAM },
      { what: 'path record with a bad magic', id: sendSpan(p, 'x3', {}, enc.encode('garbage that is not a path')), error: DMSG_ERR.PARAM },
      { what: 'path record cut short', id: sendSpan(p, 'x4', {}, encodePathRecord([nodeIdOf(7), nodeIdOf(1)]).subarray(0, 20)), error: DMSG_ERR.PARAM },
      { what: 'path naming a node twice', id: sendSpan(p, 'x5', {}, encodePathRecord([nodeIdOf(7), nodeIdOf(8), nodeIdOf(7), nodeIdOf(1)])), error: DMSG_ERR.PARAM },
      { what: 'path longer than maxPathLength', id: sendSpan(p, 'x6', {}, encodePathRecord([2, 3, 4, 5, 6].map(nodeIdOf))), error: DMSG_ERR.PARAM },
      { what: 'path through this router (a loop)', id: sendSpan(p, 'x7', {}, encodePathRecord([nodeIdOf(7), ROUTER_ID, nodeIdOf(1)])), error: DMSG_ERR.CANTCIRC },
    ];
    const good = sendSpan(p, 'ok', {}, encodePathRecord([nodeIdOf(7), nodeIdOf(1)]));
    for (const c of cases) expectRefused(await answer(p, c.id), c.error);
    expectAck(await answer(p, good));
    expect(r.links[0]!.iocom.isOpen).toBe(true);
    expect(r.spans().map((s) => s.instance)).toEqual(['ok']);
    expect(r.spans()[0]!.path).toEqual([nodeIdOf(7), nodeIdOf(1)]);
    expect(r.spans()[0]!.dist).toBe(0);
    expect(r.stats().spansRefused).toBe(cases.length);
    // Every refusal but the loop is logged (loops are routine in a mesh).
    expect(log.filter((l) => /refused (a )?span/.test(l))).toHaveLength(cases.length - 1);
    await r.close();
  });

  it('refuses a second LNK_CONN on one link; the link and its spans stay', async () => {
    const { r, log } = router();
    const p = rawPeer(r, 1);
    expectAck(await answer(p, 1n));
    const s1 = sendSpan(p, 'one');
    expectAck(await answer(p, s1));
    p.send({ cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: 2n }, encodeLnkConn({ mediaId: nodeIdOf(9), peerLabel: 'impostor' }));
    expectRefused(await answer(p, 2n), DMSG_ERR.PARAM);
    expect(log.some((l) => /second LNK_CONN; refused/.test(l))).toBe(true);
    expect(r.links[0]!.peerName).toBe('raw1');
    expectAck(await answer(p, sendSpan(p, 'two')));
    expect(r.spans().map((s) => s.instance).sort()).toEqual(['one', 'two']);
    expect(r.links[0]!.iocom.isOpen).toBe(true);
    await r.close();
  });

  it('refuses an unknown top-level transaction with NOSUPP; the link stays up', async () => {
    const { r } = router();
    const p = rawPeer(r, 1);
    p.send({ cmd: (DMSG.BLK_OPEN | DMSGF.CREATE) >>> 0, msgid: 0x77n });
    expectRefused(await answer(p, 0x77n), DMSG_ERR.NOSUPP);
    expectAck(await answer(p, sendSpan(p, 'after')));
    await r.close();
  });
});

describe('before LNK_CONN (issue 7 item 5)', () => {
  it('refuses spans and transactions from a peer that has not sent LNK_CONN, relays nothing, and accepts them after', async () => {
    const { r, log } = router();
    const far = new Router({ name: 'far', nodeId: nodeIdOf(0x200), iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    const [x, y] = memoryPair();
    r.attach(x);
    far.attach(y);
    const [a, b] = memoryPair();
    r.attach(a);
    const p = new RawPeer(b);
    const early = sendSpan(p, 'early');
    expectRefused(await answer(p, early), DMSG_ERR.NOSUPP);
    p.send({ cmd: (DMSG.BLK_OPEN | DMSGF.CREATE) >>> 0, msgid: 0x9999n });
    expectRefused(await answer(p, 0x9999n), DMSG_ERR.NOSUPP);
    expect(r.spans()).toEqual([]);
    expect(r.stats()).toMatchObject({ spans: 0, received: 0, refusedBeforeConn: 2, spansRefused: 1 });
    expect(log.some((l) => /refused 0x1207 before the peer's LNK_CONN/.test(l))).toBe(true);
    expect(log.some((l) => /span up/.test(l))).toBe(false);
    // The link stays up; once the peer's CONN is in, its spans are accepted and relayed.
    expect(r.links.every((l) => l.iocom.isOpen)).toBe(true);
    p.send({ cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: 1n }, encodeLnkConn({ mediaId: nodeIdOf(5), peerMask: ~0n & 0xffffffffffffffffn, peerType: DMSG_PEER.ROUTER, protoVersion: 1, peerLabel: 'late' }));
    expectAck(await answer(p, sendSpan(p, 'after')));
    await until(() => far.spans().some((s) => s.instance === 'after'), 'far sees the span sent after CONN');
    expect(far.spans().map((s) => s.instance)).toEqual(['after']);
    await r.close();
    await far.close();
  });
});

describe('DBG_SHELL', () => {
  /** Every reply line to one command: a PING sent after it is answered after the last line. */
  async function shellLines(p: RawPeer, line: string): Promise<string[]> {
    const before = p.received.length;
    p.send({ cmd: DMSG.DBG_SHELL }, undefined, enc.encode(`${line}\0`));
    p.send({ cmd: DMSG.LNK_PING });
    const isPong = (m: Message) => (m.header.cmd >>> 0) === ((DMSG.LNK_PING | DMSGF.REPLY) >>> 0);
    await p.until(() => p.received.slice(before).some(isPong), `reply to ${line}`);
    const got = p.received.slice(before);
    const replies = got.slice(0, got.findIndex(isPong)).filter((x) => (x.header.cmd & DMSGF.BASECMDMASK) === DMSG.DBG_SHELL);
    return replies.map((m) => {
      expect(m.header.cmd >>> 0, 'one-way DBG_SHELL|REPLY').toBe((DMSG.DBG_SHELL | DMSGF.REPLY) >>> 0);
      expect(m.header.msgid).toBe(0n);
      expect(m.header.circuit).toBe(0n);
      const text = dec.decode(m.aux);
      expect(text.endsWith('\n\0'), 'one line per reply, NUL-terminated').toBe(true);
      expect(text.slice(0, -2)).not.toContain('\n');
      return text.slice(0, -1);
    });
  }

  async function shell(p: RawPeer, line: string): Promise<string> {
    const lines = await shellLines(p, line);
    expect(lines.length).toBeGreaterThan(0);
    return lines.join('');
  }

  it('answers help, tree, links and unknown commands as one-way text replies', async () => {
    const { r } = router();
    r.advertise({ service: 'local-svc', instance: 'here' });
    const p = rawPeer(r, 1);
    sendSpan(p, 'remote', {}, encodePathRecord([nodeIdOf(7), nodeIdOf(1)]));
    await until(() => r.spans().length === 2, 'both spans');
    expect(await shell(p, 'help')).toMatch(/help[\s\S]*tree[\s\S]*links/);
    const tree = await shell(p, 'tree');
    expect(tree).toBe(r.describeTree());
    expect(tree).toMatch(/cluster local-svc [0-9a-f-]{36} type=4\n  node here [0-9a-f-]{36}\n    dist=0 rnss=0x0 via=local path=0/);
    expect(tree).toMatch(/cluster raw-service 00000000-0000-4000-8000-0000000000aa type=4\n  node remote [0-9a-f-]{36}\n    dist=0 rnss=0x0 via=c1\(raw1\) path=2/);
    expect(await shell(p, 'links')).toBe(`c1 raw1 ${nodeIdOf(1)}\n`);
    expect(await shell(p, 'frobnicate now')).toMatch(/unknown command 'frobnicate'/);
    expect(await shell(p, '')).toMatch(/commands:/);
    await r.close();
  });

  it('answers a huge tree line by line, bounded, within the link limits (issue 7 item 1)', async () => {
    // 4096 spans with 127-byte labels: the whole tree would be ~2 MB, past the 1 MiB aux limit.
    const { r } = router();
    const p = rawPeer(r, 1);
    const long = 'x'.repeat(115);
    for (let i = 0; i < 4096; i++) sendSpan(p, `${long}${String(i).padStart(7, '0')}`, { peerLabel: `${long}-svc${i}` });
    await until(() => r.spans().length === 4096, 'all 4096 spans');
    expect(r.describeTree().length).toBeGreaterThan(1 << 20);
    const lines = await shellLines(p, 'tree');
    expect(lines).toHaveLength(SHELL_MAX_LINES + 1);
    expect(lines.at(-1)).toMatch(/^\.\.\. \d+ more lines not shown \(limit \d+\)\n$/);
    expect(lines.slice(0, -1).join('')).toBe(r.describeTree().split('\n').slice(0, SHELL_MAX_LINES).join('\n') + '\n');
    for (const l of lines) expect(enc.encode(l).length).toBeLessThanOrEqual(SHELL_MAX_LINE_BYTES + 1);
    // The link is still up and answering.
    expect(r.links.every((l) => l.iocom.isOpen)).toBe(true);
    expect(await shell(p, 'links')).toBe(`c1 raw1 ${nodeIdOf(1)}\n`);
    await r.close();
  });

  it('says (no spans) for an empty table', async () => {
    const { r } = router();
    const p = rawPeer(r, 1);
    expect(await shell(p, 'tree')).toBe('(no spans)\n');
    await r.close();
  });
});

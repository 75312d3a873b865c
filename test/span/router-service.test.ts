/**
 * The service API: serve() hands every transaction (and sub-transaction) to
 * a handler, whether the caller is remote or on the same router (the
 * in-process path); open() goes to the nearest instance unless one is named
 * (by instance or node); spans name their originating router (id, name,
 * incarnation); membership events follow joins, leaves and restarts.
 */
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { Router, type MemberEvent, type ServiceCall } from '../../src/span/router.ts';
import { SVC_CMD, svcCmd, isSvcCmd, DMSG_PROTO_SVC } from '../../src/span/service-protocol.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { DMSG, DMSGF, DMSG_ERR } from '../../src/wire/constants.ts';
import { bfs, createMesh, nodeIdOf, quiesce, until } from '../helpers/mesh.ts';
import { DOWN_GRACE_MS } from '../../src/span/down-grace.ts';
import { ManualClock } from '../../src/util/clock.ts';

const CMD = SVC_CMD.EXAMPLE_ECHO;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** An echo service: answers every data message with the same aux, closes when the caller does. */
function echo(log: { tx: Transaction; call: ServiceCall }[] = []) {
  return (tx: Transaction, call: ServiceCall): void => {
    log.push({ tx, call });
    tx.rx$.subscribe({
      next: (m) => {
        if ((m.header.cmd & DMSGF.BASECMDMASK) !== DMSG.LNK_ERROR && tx.canSend) tx.send(CMD, { aux: m.aux });
      },
      complete: () => tx.close(),
      error: () => {},
    });
  };
}

/** Open, send one message, resolve with the first answer's aux text. */
async function call(r: Router, target: string, text: string, route: { instance?: string; node?: string } = {}): Promise<string> {
  const tx = r.open(target, CMD, { aux: enc.encode(text), ...route });
  return new Promise((resolve, reject) => {
    tx.rx$.subscribe({
      next: (m) => {
        resolve(dec.decode(m.aux));
        if (tx.canSend) tx.close();
      },
      error: reject,
    });
  });
}

function gridEdges(w: number, h: number): [number, number][] {
  const out: [number, number][] = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (x + 1 < w) out.push([y * w + x, y * w + x + 1]);
      if (y + 1 < h) out.push([y * w + x, (y + 1) * w + x]);
    }
  return out;
}

describe('serve() and open(): remote and local alike', () => {
  it.each([0, 1, 3])('a remote caller (%i relays) and a local caller reach the same handler with the same interface', async (relays) => {
    const n = relays + 2;
    const mesh = createMesh(n, Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]));
    const server = mesh.routers[0]!;
    const client = mesh.routers[n - 1]!;
    const got: { tx: Transaction; call: ServiceCall }[] = [];
    server.serve('echo', echo(got), { instance: 'e0' });
    await until(() => client.spans('echo').length === 1, 'span reaches the client');
    expect(await call(client, 'echo', 'remote')).toBe('remote');
    expect(await call(server, 'echo', 'local')).toBe('local');
    expect(got.map((g) => [g.call.service, g.call.instance, g.call.local, g.call.parent])).toEqual([
      ['echo', 'e0', false, null],
      ['echo', 'e0', true, null],
    ]);
    await quiesce(mesh);
    await mesh.close();
  });

  it('stacks sub-transactions both ways on the in-process path, and a parent\'s end takes its children along', async () => {
    const r = new Router({ name: 'solo', nodeId: nodeIdOf(1) });
    const got: { tx: Transaction; call: ServiceCall }[] = [];
    r.serve('svc', (tx, call) => {
      got.push({ tx, call });
      tx.rx$.subscribe({ error: () => {} });
    });
    const fromService: Transaction[] = [];
    r.subTransactions$.subscribe((t) => {
      t.rx$.subscribe({ error: () => {} });
      fromService.push(t);
    });
    const t1 = r.open('svc', CMD, { aux: enc.encode('t1') });
    await until(() => got.length === 1, 'the service gets t1');
    const s1 = got[0]!.tx;
    expect(s1.openedByPeer).toBe(true);
    expect(dec.decode(s1.first!.aux)).toBe('t1');
    const t2 = r.openChild(t1, CMD, { aux: enc.encode('t2') });
    await until(() => got.length === 2, 'the service gets t2');
    expect(got[1]!.tx.parent).toBe(s1);
    expect(got[1]!.call.parent).toBe(s1);
    const u2 = got[0]!.call.open(CMD, { aux: enc.encode('u2') });
    await until(() => fromService.length === 1, 'the caller gets u2');
    expect(fromService[0]!.parent).toBe(t1);
    expect(dec.decode(fromService[0]!.first!.aux)).toBe('u2');
    // Data both ways on the deepest level.
    const atService: string[] = [];
    got[1]!.tx.rx$.subscribe({ next: (m) => atService.push(dec.decode(m.aux)), error: () => {} });
    t2.send(CMD, { aux: enc.encode('down') });
    await until(() => atService.includes('down'), 'data reaches the service');
    // The caller ends t1: the service sees its DELETE; when it closes too, both children end with LOSTLINK.
    const ends: string[] = [];
    t2.rx$.subscribe({ error: (e: { code: string }) => ends.push(`t2 ${e.code}`) });
    u2.rx$.subscribe({ error: (e: { code: string }) => ends.push(`u2 ${e.code}`) });
    t1.close();
    await until(() => s1.rxDeleted, 's1 sees the DELETE');
    s1.close();
    await until(() => ends.length === 2, 'children end');
    expect(ends.sort()).toEqual(['t2 LOST_LINK', 'u2 LOST_LINK']);
    expect(t1.freed && s1.freed && t2.freed && u2.freed).toBe(true);
    await r.close();
  });

  it('withdrawing a local service ends its open local transactions with LOSTLINK; a throwing handler aborts only its transaction', async () => {
    const log: string[] = [];
    const r = new Router({ name: 'solo', nodeId: nodeIdOf(1), log: (l) => log.push(l) });
    let calls = 0;
    const svc = r.serve('svc', (tx) => {
      calls++;
      if (calls === 1) throw new Error('handler bug');
      tx.rx$.subscribe({ error: () => {} });
    });
    const bad = r.open('svc', CMD);
    const badEnd = new Promise<string>((resolve) => bad.rx$.subscribe({ error: (e: { code: string }) => resolve(e.code), complete: () => resolve('complete') }));
    expect(await badEnd).toBe('ABORTED');
    expect(log.some((l) => /handler threw: handler bug/.test(l))).toBe(true);
    const good = r.open('svc', CMD);
    const goodEnd = new Promise<string>((resolve) => good.rx$.subscribe({ error: (e: { code: string }) => resolve(e.code) }));
    await until(() => calls === 2, 'second call served');
    svc.close();
    expect(await goodEnd).toBe('LOST_LINK');
    expect(() => r.open('svc', CMD)).toThrow(/no reachable span of svc/);
    await r.close();
  });

  it('advertise() without a subscriber refuses local opens with NOSUPP, as a remote one', async () => {
    const r = new Router({ name: 'solo', nodeId: nodeIdOf(1) });
    r.advertise({ service: 'mute' });
    const tx = r.open('mute', CMD);
    const end = await new Promise<{ error: number }>((resolve) => tx.rx$.subscribe({ next: (m) => resolve({ error: m.header.error }), error: () => {} }));
    expect(end.error).toBe(DMSG_ERR.NOSUPP);
    await r.close();
  });
});

describe('open() picks the nearest instance (issue 8 defect 3)', () => {
  it('on a 10x10 grid with one service at two corners, every router that is nearer to one goes there (the reported case)', async () => {
    const W = 10;
    const edges = gridEdges(W, W);
    const mesh = createMesh(W * W, edges);
    const far = W * W - 1;
    const served: string[] = [];
    // Instance names ordered against distance: 'a' is at the far corner.
    mesh.routers[far]!.serve('dup', (tx) => { served.push('a'); tx.rx$.subscribe({ error: () => {} }); tx.close(); }, { instance: 'a' });
    mesh.routers[0]!.serve('dup', (tx) => { served.push('z'); tx.rx$.subscribe({ error: () => {} }); tx.close(); }, { instance: 'z' });
    await quiesce(mesh);
    const fromZ = bfs(W * W, edges, 0);
    const fromA = bfs(W * W, edges, far);
    let checked = 0;
    for (let i = 0; i < W * W; i++) {
      const dz = fromZ.get(i)!;
      const da = fromA.get(i)!;
      const spans = mesh.routers[i]!.spans('dup');
      // Nearest first, dist as carried (0 for own or a neighbour's).
      expect(spans.map((s) => s.instance), `n${i}`).toEqual(dz < da ? ['z', 'a'] : dz > da ? ['a', 'z'] : ['a', 'z']);
      if (dz === da) continue;
      served.length = 0;
      mesh.routers[i]!.open('dup', CMD);
      await until(() => served.length === 1, `n${i} served`);
      expect(served[0], `n${i}: ${dz} hops to z, ${da} to a`).toBe(dz < da ? 'z' : 'a');
      checked++;
    }
    expect(checked).toBe(W * W - W); // the anti-diagonal is equidistant
    await mesh.close();
  });

  it('names an instance with {instance} or "service/instance", and a node by id or name', async () => {
    const mesh = createMesh(3, [[0, 1], [1, 2]]);
    const [r0, r1, r2] = mesh.routers as [Router, Router, Router];
    const got: string[] = [];
    for (const [r, inst] of [[r0, 'i0'], [r2, 'i2']] as const) r.serve('svc', (tx, c) => { got.push(`${c.instance}@${r.name}`); echo()(tx, c); }, { instance: inst });
    await quiesce(mesh);
    expect(await call(r1, 'svc', 'x')).toBe('x'); // equidistant: by instance name
    expect(got.at(-1)).toBe('i0@n0');
    expect(await call(r1, 'svc/i2', 'x')).toBe('x');
    expect(got.at(-1)).toBe('i2@n2');
    expect(await call(r0, 'svc', 'x', { instance: 'i2' })).toBe('x');
    expect(got.at(-1)).toBe('i2@n2');
    expect(await call(r0, 'svc', 'x', { node: r2.nodeId })).toBe('x');
    expect(got.at(-1)).toBe('i2@n2');
    expect(await call(r2, 'svc', 'x', { node: 'n0' })).toBe('x');
    expect(got.at(-1)).toBe('i0@n0');
    expect(await call(r2, 'svc', 'x')).toBe('x'); // its own, nearest
    expect(got.at(-1)).toBe('i2@n2');
    expect(() => r1.open('svc', CMD, { node: 'nobody' })).toThrow(/no reachable span of svc on nobody/);
    expect(() => r1.open('svc/i9', CMD)).toThrow(/no reachable span of svc\/i9/);
    await mesh.close();
  });
});

describe('who originated a span, and membership', () => {
  it('every span carries its originating router\'s id, name and incarnation through relays', async () => {
    const mesh = createMesh(4, [[0, 1], [1, 2], [2, 3]]);
    const [r0, , , r3] = mesh.routers as [Router, Router, Router, Router];
    r0.serve('svc', echo());
    await quiesce(mesh);
    const s = r3.spans('svc')[0]!;
    expect([s.node, s.nodeName, s.incarnation, s.dist]).toEqual([r0.nodeId, 'n0', r0.incarnation, 2]);
    const own = r0.spans('svc')[0]!;
    expect([own.node, own.nodeName, own.incarnation, own.dist, own.via]).toEqual([r0.nodeId, 'n0', r0.incarnation, 0, null]);
    expect(r0.incarnation).not.toBe(mesh.routers[1]!.incarnation);
    await mesh.close();
  });

  it('members$ and members(): join, leave, and a restart as leave + join with a new incarnation', async () => {
    const clock = new ManualClock();
    const mesh = createMesh(3, [[0, 1], [1, 2]], { clock });
    const [r0, r1, r2] = mesh.routers as [Router, Router, Router];
    const events: MemberEvent[] = [];
    r1.members$('lock').subscribe((e) => events.push(e));
    const brief = (e: MemberEvent) => `${e.type} ${e.member.name} ${e.member.incarnation === null ? '?' : 'inc'} [${e.member.instances.join(',')}]`;
    const s0 = r0.serve('lock', echo(), { instance: 'a' });
    r0.serve('lock', echo(), { instance: 'b' }); // a second instance: no second join
    r0.serve('other', echo());
    const s1 = r1.serve('lock', echo());
    await quiesce(mesh);
    expect(events.map(brief)).toEqual(['join n1 inc [n1]', 'join n0 inc [a]']); // its own at once, n0's when it arrives
    expect(r1.members('lock').map((m) => [m.name, m.local, m.instances])).toEqual([['n1', true, ['n1']], ['n0', false, ['a', 'b']]]);
    expect(r2.members('lock').map((m) => [m.node, m.incarnation])).toEqual([[r0.nodeId, r0.incarnation], [r1.nodeId, r1.incarnation]].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
    s0.close();
    await quiesce(mesh);
    expect(events.length).toBe(2); // n0 still offers 'b'
    s1.close();
    await quiesce(mesh);
    expect(events.slice(2).map(brief)).toEqual(['leave n1 inc [n1]']);
    // n0 restarts: same node id, new run.
    const oldInc = r0.incarnation;
    mesh.links[0]!.cut();
    await r0.close();
    await quiesce(mesh);
    // A lost link, not a withdrawal: n1 (not isolated: it keeps n2) holds n0's spans for the down grace.
    expect(events.length).toBe(3);
    expect(r1.members('lock')).toEqual([]); // no live path: left out of the snapshot at once
    clock.advance(DOWN_GRACE_MS - 1);
    expect(events.length).toBe(3);
    clock.advance(1);
    expect(events.slice(3).map(brief)).toEqual(['leave n0 inc [b]']);
    const again = new Router({ name: 'n0', nodeId: nodeIdOf(0), localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    again.serve('lock', echo(), { instance: 'b' });
    const [x, y] = memoryPair();
    again.attach(x);
    r1.attach(y);
    await until(() => events.length === 5, 'the restarted node joins');
    expect(events[4]!.type).toBe('join');
    expect(events[4]!.member.incarnation).toBe(again.incarnation);
    expect(again.incarnation).not.toBe(oldInc);
    expect(r1.members('lock').map((m) => m.incarnation)).toEqual([again.incarnation]);
    await again.close();
    await mesh.close();
  });
});

describe('the down grace (down-grace.ts) in members$ and spans$', () => {
  it('a node that restarts within the grace: leave + join with the new incarnation at once, spans$ one changed, no down', async () => {
    const clock = new ManualClock();
    const mesh = createMesh(3, [[0, 1], [1, 2]], { clock });
    const [r0, r1] = mesh.routers as [Router, Router, Router];
    const members: string[] = [];
    const spans: string[] = [];
    r1.members$('lock').subscribe((e) => members.push(`${e.type} ${e.member.incarnation === r0.incarnation ? 'old' : 'new'}`));
    r1.spans$.subscribe((e) => spans.push(e.type));
    r0.serve('lock', echo());
    await quiesce(mesh);
    expect([members, spans]).toEqual([['join old'], ['up']]);
    mesh.links[0]!.cut();
    await r0.close();
    await quiesce(mesh);
    expect([members, spans, r1.spans('lock'), r1.stats().downGraces]).toEqual([['join old'], ['up'], [], 1]);
    clock.advance(DOWN_GRACE_MS - 1);
    const again = new Router({ name: 'n0', nodeId: nodeIdOf(0), localRnss: 1, clock, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    again.serve('lock', echo());
    const [x, y] = memoryPair();
    again.attach(x);
    r1.attach(y);
    await until(() => members.length === 3, 'the restarted node joins');
    expect(members).toEqual(['join old', 'leave old', 'join new']);
    expect(spans).toEqual(['up', 'changed']);
    expect(r1.spans('lock').map((sp) => sp.incarnation)).toEqual([again.incarnation]);
    expect(r1.stats()).toMatchObject({ downGraces: 0, downGracesReturned: 1, downGracesExpired: 0 });
    clock.advance(DOWN_GRACE_MS);
    expect(spans).toEqual(['up', 'changed']);
    await again.close();
    await mesh.close();
  });

  it('a withdrawal is reported at once, and a router left without any live link reports down at once', async () => {
    const clock = new ManualClock();
    const mesh = createMesh(3, [[0, 1], [1, 2]], { clock });
    const [r0, r1, r2] = mesh.routers as [Router, Router, Router];
    const at1: string[] = [];
    const at2: string[] = [];
    r1.spans$.subscribe((e) => at1.push(`${e.type} ${e.span.instance}`));
    r2.spans$.subscribe((e) => at2.push(`${e.type} ${e.span.instance}`));
    const a = r0.serve('lock', echo(), { instance: 'a' });
    r0.serve('lock', echo(), { instance: 'b' });
    await quiesce(mesh);
    a.close();
    await quiesce(mesh);
    expect(at1.filter((e) => e.startsWith('down'))).toEqual(['down a']);
    expect(at2.filter((e) => e.startsWith('down'))).toEqual(['down a']);
    // n2's only link goes: nothing can bring b back to it, down at once; n1 keeps n0 and b.
    mesh.links[1]!.cut();
    await quiesce(mesh);
    expect(at2.filter((e) => e.startsWith('down'))).toEqual(['down a', 'down b']);
    expect(r2.stats().downGraces).toBe(0);
    expect(at1.filter((e) => e.startsWith('down'))).toEqual(['down a']);
    await mesh.close();
  });
});

describe('service command codes', () => {
  it('live in protocol 0xE, unused by DragonFly, with the documented ranges', () => {
    expect(DMSG_PROTO_SVC).toBe(0x00e00000);
    expect(svcCmd(0x001)).toBe(0x00e00101);
    expect(svcCmd(0x100, 64)).toBe(0x00e10002);
    expect(SVC_CMD.EXAMPLE_ECHO).toBe(0x00e70001);
    for (const cmd of Object.values(SVC_CMD)) expect(isSvcCmd(cmd)).toBe(true);
    for (const cmd of Object.values(DMSG)) expect(isSvcCmd(cmd), cmd.toString(16)).toBe(false);
    expect(new Set(Object.values(SVC_CMD)).size).toBe(Object.values(SVC_CMD).length);
    expect(() => svcCmd(0x800)).toThrow(/0x7ff/);
    expect(() => svcCmd(1, 10)).toThrow(/multiple of 64/);
  });
});

describe('the router\'s clock', () => {
  it('times waitForSpan and the memory of withdrawn advertisements (ManualClock, no real waiting)', async () => {
    const { ManualClock } = await import('../../src/util/clock.ts');
    const clock = new ManualClock();
    const mesh = createMesh(2, [[0, 1]], { clock, lossMemoryMs: 5000 });
    const [r0, r1] = mesh.routers as [Router, Router];
    const waiting = r1.waitForSpan('late', { timeoutMs: 100 });
    clock.advance(99);
    r0.serve('soon', echo());
    await quiesce(mesh);
    clock.advance(1);
    await expect(waiting).rejects.toMatchObject({ code: 'NO_SPAN', message: /within 100 ms/ });
    await expect(r1.waitForSpan('soon', { timeoutMs: 100 })).resolves.toMatchObject({ instance: 'n0' });
    expect(clock.pending).toBe(0);
    await mesh.close();
  });

  it('forgets a withdrawn advertisement lossMemoryMs later on its clock: a stale copy is refused before, accepted after', async () => {
    const { ManualClock } = await import('../../src/util/clock.ts');
    const { copyMessage } = await import('../../src/wire/message.ts');
    const { RawPeer } = await import('../helpers/raw-peer.ts');
    const { encodeLnkConn } = await import('../../src/wire/ext/lnk-conn.ts');
    const { DMSG_ERR_WITHDRAWN } = await import('../../src/span/router.ts');
    const clock = new ManualClock();
    const mesh = createMesh(2, [[0, 1]], { clock, lossMemoryMs: 5000 });
    const [r0, r1] = mesh.routers as [Router, Router];
    const seen: ReturnType<typeof copyMessage>[] = [];
    mesh.links[0]!.iocoms[1].transactions$.subscribe((tx) => { if (tx.icmd === DMSG.LNK_SPAN) seen.push(copyMessage(tx.first!)); });
    const svc = r0.serve('gone', echo());
    await quiesce(mesh);
    expect(seen).toHaveLength(1);
    svc.close();
    await quiesce(mesh);
    expect(r1.spans('gone')).toEqual([]);
    const [a, b] = memoryPair();
    r1.attach(a);
    const p = new RawPeer(b);
    p.send({ cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: 1n }, encodeLnkConn({ mediaId: nodeIdOf(77), peerMask: 0n, peerType: 1, protoVersion: 1, pfsMask: 0xffffffffffffffffn, pfsLabel: 'raw' }));
    const resend = async (msgid: bigint): Promise<number> => {
      p.send({ cmd: (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0, msgid }, seen[0]!.ext, seen[0]!.aux);
      await p.until(() => p.received.some((m) => m.header.msgid === msgid), 'answer');
      const m = p.received.find((x) => x.header.msgid === msgid)!;
      return m.header.cmd & DMSGF.DELETE ? m.header.error : 0;
    };
    expect(await resend(0x100n)).toBe(DMSG_ERR_WITHDRAWN);
    clock.advance(4999);
    expect(await resend(0x101n)).toBe(DMSG_ERR_WITHDRAWN);
    clock.advance(1);
    expect(await resend(0x102n)).toBe(0);
    await until(() => r1.spans('gone').length === 1, 'the copy is accepted once forgotten');
    await mesh.close();
  });
});

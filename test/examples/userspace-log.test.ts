/**
 * examples/userspace-log: the kernel-side client against the log server
 * over a span, on routers joined by in-memory links. Timeouts run on a
 * ManualClock (advance() fires them); the mesh is waited on by bounded
 * event-loop turns, never by sleeping.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DlmSim, ManualClock, Router, memoryPair } from 'dmsg-mesh';
import { createMesh, nodeIdOf, until, type Mesh } from '../helpers/mesh.ts';
import { UlogClient, UlogError } from '../../examples/userspace-log/client.ts';
import { LogServer, ULOG_CMD, type ReplyFate } from '../../examples/userspace-log/log-server.ts';
import { ClusteredLogServer } from '../../examples/userspace-log/clustered-server.ts';
import { LogStore } from '../../examples/userspace-log/region-log.ts';
import { SpanChannel } from '../../examples/userspace-log/span-channel.ts';
import { ERRNO, ULOG, ULOG_MAX_DATA, decodeRequest, encodeRequest, readU64s, u64, type UlogRequest } from '../../examples/userspace-log/request.ts';

const UUID = 'LVM-mirror-0001';
const quiet = { localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } };
let mesh: Mesh | undefined;
const extra: Router[] = [];

afterEach(async () => {
  await mesh?.close();
  await Promise.all(extra.splice(0).map((r) => r.close()));
  mesh = undefined;
});

/** A client on n0 and a log server on n1 (and n2 when asked). */
async function setup(fault?: (req: UlogRequest) => ReplyFate, n = 2) {
  mesh = createMesh(n, Array.from({ length: n - 1 }, (_, i) => [0, i + 1] as [number, number]), quiet);
  const [client, srv] = mesh.routers as [Router, Router];
  const store = new LogStore();
  const server = new LogServer(srv, { store, fault });
  await until(() => client.spans('ulog').length > 0, 'client sees the ulog span');
  const clock = new ManualClock();
  const channel = new SpanChannel(client);
  const ulog = new UlogClient(channel, { clock });
  const call = (type: number, data?: Uint8Array, cap?: number) => ulog.request(7n, UUID, type, data, cap);
  return { mesh, client, srv, store, server, clock, channel, ulog, call };
}

describe('dm_ulog_request codec', () => {
  it('round-trips; refuses other versions, reserved type bits and a wrong data_size', () => {
    const r = { luid: 0x1122334455667788n, uuid: UUID, error: -11, seq: 0xfffffffe, type: ULOG.MARK_REGION, data: u64(1n, 2n) };
    const b = encodeRequest(r);
    expect(b.length).toBe(160 + 16);
    expect(decodeRequest(b)).toEqual(r);
    const v = new DataView(b.buffer);
    v.setUint32(140, 1, true);
    expect(decodeRequest(b)).toBeUndefined();
    v.setUint32(140, 2, true);
    v.setUint32(152, 0x100 | ULOG.MARK_REGION, true);
    expect(decodeRequest(b)).toBeUndefined();
    v.setUint32(152, ULOG.MARK_REGION, true);
    expect(decodeRequest(b.subarray(0, 170))).toBeUndefined();
    expect(decodeRequest(new Uint8Array(20))).toBeUndefined();
    // A uuid filling all 129 bytes without a NUL is refused (a server could not echo it back).
    const full = encodeRequest({ ...r, uuid: '' });
    full.fill(0x41, 8, 137);
    expect(decodeRequest(full)).toBeUndefined();
  });

  it('the server drops malformed requests and keeps answering the connection', async () => {
    const { call, server, client } = await setup();
    await call(ULOG.CTR, u64(512n, 8n));
    const tx = client.open('ulog', ULOG_CMD, { aux: new Uint8Array(300).fill(0x41) });
    tx.rx$.subscribe({ error: () => {} });
    await until(() => server.stats.malformed === 1, 'malformed request counted');
    expect(readU64s(await call(ULOG.GET_REGION_SIZE))).toEqual([512n]);
    tx.close();
  });
});

describe('examples/userspace-log', () => {
  it('normal requests: the log answers over the span, concurrent requests matched by sequence number', async () => {
    const { call, ulog, server, channel } = await setup();
    await call(ULOG.CTR, u64(1024n, 16n));
    expect(readU64s(await call(ULOG.GET_REGION_SIZE))).toEqual([1024n]);
    await call(ULOG.MARK_REGION, u64(3n, 5n));
    // Concurrent: each its own seq, answers matched to the right caller.
    const [c3, c4, c5] = await Promise.all([3n, 4n, 5n].map((r) => call(ULOG.IS_CLEAN, u64(r))));
    expect([c3, c4, c5].map((d) => readU64s(d!)[0])).toEqual([0n, 1n, 0n]);
    await call(ULOG.CLEAR_REGION, u64(3n));
    expect(readU64s(await call(ULOG.IS_CLEAN, u64(3n)))).toEqual([1n]);
    expect(readU64s(await call(ULOG.GET_RESYNC_WORK))).toEqual([1n, 0n]);
    await call(ULOG.SET_REGION_SYNC, u64(0n, 1n));
    expect(readU64s(await call(ULOG.GET_SYNC_COUNT))).toEqual([1n]);
    expect(readU64s(await call(ULOG.IN_SYNC, u64(0n)))).toEqual([1n]);
    // Errors: the server's (unknown region), too much data (before sending), a reply larger than the buffer.
    await expect(call(ULOG.IS_CLEAN, u64(99n))).rejects.toMatchObject({ errno: ERRNO.EINVAL });
    await expect(call(ULOG.FLUSH, new Uint8Array(ULOG_MAX_DATA + 1))).rejects.toMatchObject({ errno: ERRNO.EINVAL });
    await expect(call(ULOG.GET_REGION_SIZE, undefined, 4)).rejects.toMatchObject({ errno: ERRNO.ENOSPC });
    await expect(ulog.request(8n, 'no-such-log', ULOG.FLUSH)).rejects.toBeInstanceOf(UlogError);
    expect(ulog.stats).toMatchObject({ timeouts: 0, eagain: 0, stale: 0, malformed: 0 });
    expect(ulog.outstanding).toEqual([]);
    expect(server.stats.answered).toBe(ulog.stats.sent);
    expect(channel.opened).toBe(1);
  });

  it('a lost reply: the request is resent with a new sequence number after the timeout', async () => {
    let drops = 1;
    const { call, ulog, server, clock } = await setup((req) => (req.type === ULOG.GET_REGION_SIZE && drops-- > 0 ? 'drop' : 'send'));
    await call(ULOG.CTR, u64(512n, 8n));
    const p = call(ULOG.GET_REGION_SIZE);
    await until(() => server.stats.dropped === 1, 'the server dropped the reply');
    const [first] = ulog.outstanding;
    expect(clock.delays).toEqual([15_000]);
    clock.advance(15_000);
    expect(readU64s(await p)).toEqual([512n]);
    expect(ulog.stats.timeouts).toBe(1);
    expect(ulog.stats.sent).toBe(3);
    expect(first).toBe(1); // seq 0 was CTR; the resend used seq 2
    expect(ulog.outstanding).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('a stale reply with an old sequence number is discarded, not taken for the resend', async () => {
    const { call, ulog, server, clock } = await setup((req) => (req.type === ULOG.IS_CLEAN ? 'hold' : 'send'));
    await call(ULOG.CTR, u64(512n, 8n));
    let result: Uint8Array | undefined;
    const p = call(ULOG.IS_CLEAN, u64(2n)).then((d) => (result = d));
    await until(() => server.stats.held === 1, 'first attempt held');
    clock.advance(15_000); // timeout: resend with a new seq, also held
    await until(() => server.stats.held === 2, 'second attempt held');
    expect(ulog.outstanding).toEqual([2]);
    // Both replies now: the one for seq 1 is late (no waiter), seq 2 matches.
    server.releaseHeld();
    await p;
    expect(readU64s(result!)).toEqual([1n]);
    await until(() => ulog.stats.stale === 1, 'the late reply was counted stale');
    expect(ulog.stats).toMatchObject({ timeouts: 1, stale: 1, malformed: 0 });
  });

  it('EAGAIN from the server: resent with a new seq at once (no timeout)', async () => {
    let again = 2;
    const { call, ulog, clock } = await setup((req) => (req.type === ULOG.FLUSH && again-- > 0 ? 'eagain' : 'send'));
    await call(ULOG.CTR, u64(512n, 8n));
    await call(ULOG.FLUSH);
    expect(ulog.stats).toMatchObject({ eagain: 2, timeouts: 0, sent: 4 });
    expect(clock.pending).toBe(0);
  });

  it('no server reachable: the send fails with ENOENT and is not retried', async () => {
    mesh = createMesh(1, [], quiet);
    const ulog = new UlogClient(new SpanChannel(mesh.routers[0]!), { clock: new ManualClock() });
    await expect(ulog.request(1n, UUID, ULOG.CTR, u64(1n, 1n))).rejects.toMatchObject({ errno: ERRNO.ENOENT });
    expect(ulog.stats.sent).toBe(0);
    expect(ulog.outstanding).toEqual([]);
  });

  it('the server restarts mid-request: a new router instance serves the same log; the timeout resend reaches it', async () => {
    const { call, ulog, client, srv, store, server, clock, channel } = await setup((req) => (req.type === ULOG.GET_SYNC_COUNT ? 'hold' : 'send'));
    await call(ULOG.CTR, u64(512n, 8n));
    await call(ULOG.SET_REGION_SYNC, u64(4n, 1n));
    const p = call(ULOG.GET_SYNC_COUNT);
    await until(() => server.stats.held === 1, 'request reached the server');
    // The server process dies with the request unanswered.
    await srv.close();
    await until(() => client.spans('ulog').length === 0, 'span withdrawn');
    // It comes back: a new router instance (new node id) on a new link, same log store.
    const again = new Router({ name: 'n1-restarted', nodeId: nodeIdOf(99), ...quiet });
    extra.push(again);
    const [a, b] = memoryPair();
    client.attach(a);
    again.attach(b);
    const server2 = new LogServer(again, { store });
    await until(() => client.spans('ulog').length === 1, 'client sees the restarted server');
    clock.advance(15_000);
    expect(readU64s(await p)).toEqual([1n]);
    expect(server2.stats.answered).toBe(1);
    expect(ulog.stats.timeouts).toBe(1);
    expect(channel.opened).toBe(2);
  });

  it('clustered: one server active per log (DLM EX); a clean stop mid-request hands over to the standby', async () => {
    mesh = createMesh(3, [[0, 1], [0, 2]], quiet);
    const [client, r1, r2] = mesh.routers as [Router, Router, Router];
    const sim = new DlmSim({ nodes: [1, 2] });
    const store = new LogStore();
    let holds = 1; // the first IN_SYNC request is held, wherever it lands
    const fault = (req: UlogRequest): ReplyFate => (req.type === ULOG.IN_SYNC && holds-- > 0 ? 'hold' : 'send');
    const servers = [
      new ClusteredLogServer(r1, await sim.node(1).join('ulog', { members: [1, 2] }), { store, fault }),
      new ClusteredLogServer(r2, await sim.node(2).join('ulog', { members: [1, 2] }), { store, fault }),
    ];
    const started = servers.map((s) => s.start());
    await sim.settle();
    // Exactly one is granted EX and serves (which one depends on the resource's master); the other waits.
    expect(servers.filter((s) => s.active).length).toBe(1);
    const active = servers.find((s) => s.active)!;
    const standby = servers.find((s) => !s.active)!;
    await until(() => client.spans('ulog').length === 1, 'the active server is seen');
    expect(client.spans('ulog')[0]!.node).toBe(active.router.nodeId);
    const clock = new ManualClock();
    const ulog = new UlogClient(new SpanChannel(client), { clock });
    await ulog.request(1n, UUID, ULOG.CTR, u64(64n, 4n));
    const p = ulog.request(1n, UUID, ULOG.IN_SYNC, u64(0n));
    await until(() => active.server!.stats.held === 1, 'request held by the active server');
    // The active server stops cleanly: withdraws its span, unlocks; the standby is granted EX and serves.
    const stopped = active.stop();
    await sim.settle();
    await stopped;
    await started[servers.indexOf(standby)];
    expect([active.active, standby.active]).toEqual([false, true]);
    await until(() => client.spans('ulog').length === 1 && client.spans('ulog')[0]!.node === standby.router.nodeId, 'the standby is seen');
    clock.advance(15_000);
    expect(readU64s(await p)).toEqual([0n]);
    expect(standby.server!.stats.answered).toBe(1);
    expect(ulog.stats.timeouts).toBe(1);
    const last = standby.stop();
    await sim.settle();
    await last;
    expect(servers.some((s) => s.active)).toBe(false);
  });
});

describe('examples/userspace-log/main.ts', () => {
  it('runs to completion: a lost reply and a failover mid-request, both answered by resending', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--conditions=dmsg-mesh-source', '--import', 'tsx', 'examples/userspace-log/main.ts'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/active log server: srv\d; standby: srv\d/);
    expect(r.stdout).toContain('region 2 clean: false');
    expect(r.stdout).toMatch(/srv\d stopped; srv\d active: true/);
    expect(r.stdout).toContain('regions in sync: 1');
    expect(r.stdout).toContain('client: 7 sends, 2 timeouts, 0 stale replies');
    expect(r.stdout).toMatch(/done\n$/);
  });
});

describe('examples/userspace-log: a node dies, DLM recovery hands over', () => {
  it("the active log server's node dies mid-request: the standby is granted EX only after recovery purges the dead node's lock, serves, and answers the resend", async () => {
    mesh = createMesh(3, [[0, 1], [0, 2]], quiet);
    const [client, r1, r2] = mesh.routers as [Router, Router, Router];
    const sim = new DlmSim({ nodes: [1, 2] });
    const store = new LogStore();
    let holds = 1;
    const fault = (req: UlogRequest): ReplyFate => (req.type === ULOG.IN_SYNC && holds-- > 0 ? 'hold' : 'send');
    const lss = [await sim.node(1).join('ulog', { members: [1, 2] }), await sim.node(2).join('ulog', { members: [1, 2] })];
    const servers = [new ClusteredLogServer(r1, lss[0]!, { store, fault }), new ClusteredLogServer(r2, lss[1]!, { store, fault })];
    const started = servers.map((s) => s.start());
    await sim.settle();
    expect(servers.filter((s) => s.active).length).toBe(1);
    const a = servers.findIndex((s) => s.active);
    const [active, standby] = [servers[a]!, servers[1 - a]!];
    const [deadId, liveId] = [a + 1, 2 - a];
    await until(() => client.spans('ulog').length === 1, 'the active server is seen');
    const clock = new ManualClock();
    const ulog = new UlogClient(new SpanChannel(client), { clock });
    await ulog.request(1n, UUID, ULOG.CTR, u64(64n, 4n));
    await ulog.request(1n, UUID, ULOG.SET_REGION_SYNC, u64(3n, 1n));
    const p = ulog.request(1n, UUID, ULOG.IN_SYNC, u64(3n));
    await until(() => active.server!.stats.held === 1, 'request held by the active server');

    // The active node dies: its router goes (span withdrawn), its DLM node falls silent for good.
    await active.router.close();
    lss[a]!.raw.stop();
    sim.hold(deadId, liveId);
    sim.hold(liveId, deadId);
    await until(() => client.spans('ulog').length === 0, 'span withdrawn');
    // The dead node's EX stands until the survivors recover without it: no takeover yet.
    await sim.settle();
    expect(standby.active).toBe(false);

    // The membership manager (the test here; joinOverSpans or the views driver on a mesh): stop, start without it.
    const generation = lss[1 - a]!.raw.generation;
    lss[1 - a]!.raw.stop();
    lss[1 - a]!.raw.start([liveId]);
    await sim.settle();
    await started[1 - a];
    expect(lss[1 - a]!.raw.generation).toBeGreaterThan(generation);
    // The dead node's EX was purged on a surviving master, or not rebuilt on a new one (remastered).
    const rec = lss[1 - a]!.raw.stats.recovery;
    expect(rec.purged + rec.remastered).toBeGreaterThanOrEqual(1);
    expect(standby.active).toBe(true);
    await until(() => client.spans('ulog').length === 1 && client.spans('ulog')[0]!.node === standby.router.nodeId, 'the standby is seen');
    // The client's timeout resend reaches the new server, which serves the same log.
    clock.advance(15_000);
    expect(readU64s(await p)).toEqual([1n]);
    expect(standby.server!.stats.answered).toBe(1);
    expect(ulog.stats).toMatchObject({ timeouts: 1, stale: 0 });
    expect(readU64s(await ulog.request(1n, UUID, ULOG.GET_SYNC_COUNT))).toEqual([1n]);
    const last = standby.stop();
    await sim.settle();
    await last;
  });

  it('the active server is cut off, not dead: the survivors recover without it, the standby serves with a higher fencing token, and the store refuses the old server (it withdraws; the resend reaches the new one)', async () => {
    mesh = createMesh(3, [[0, 1], [0, 2]], quiet);
    const [client, r1, r2] = mesh.routers as [Router, Router, Router];
    const sim = new DlmSim({ nodes: [1, 2] });
    const store = new LogStore();
    const lss = [await sim.node(1).join('ulog', { members: [1, 2] }), await sim.node(2).join('ulog', { members: [1, 2] })];
    const servers = [new ClusteredLogServer(r1, lss[0]!, { store }), new ClusteredLogServer(r2, lss[1]!, { store })];
    const started = servers.map((s) => s.start());
    await sim.settle();
    const a = servers.findIndex((s) => s.active);
    const [old, standby] = [servers[a]!, servers[1 - a]!];
    const [cutId, liveId] = [a + 1, 2 - a];
    const oldServer = old.server!;
    const firstMark = store.fence;
    expect(firstMark).toBeGreaterThan(0);
    await until(() => client.spans('ulog').length === 1, 'the active server is seen');
    const clock = new ManualClock();
    const ulog = new UlogClient(new SpanChannel(client), { clock });
    await ulog.request(1n, UUID, ULOG.CTR, u64(64n, 4n));

    // Its DLM node is cut off from the other (not stopped: it does not know); its router still reaches the client.
    sim.hold(cutId, liveId);
    sim.hold(liveId, cutId);
    lss[1 - a]!.raw.stop();
    lss[1 - a]!.raw.start([liveId]);
    await sim.settle();
    await started[1 - a];
    expect(standby.active).toBe(true);
    expect(old.active).toBe(true); // the cut-off node still believes it holds EX
    expect(store.fence).toBeGreaterThan(firstMark);
    await until(() => client.spans('ulog').length === 2, 'both servers advertise');

    // The client's connection still goes to the old server: refused by the store, it withdraws.
    const p = ulog.request(1n, UUID, ULOG.SET_REGION_SYNC, u64(2n, 1n));
    await until(() => oldServer.stats.fenced === 1, 'the old server was refused');
    await until(() => client.spans('ulog').length === 1 && client.spans('ulog')[0]!.node === standby.router.nodeId, 'the old server withdrew');
    expect(oldServer.stats.answered).toBe(1); // only CTR, before the cut
    clock.advance(15_000);
    await p;
    expect(standby.server!.stats.answered).toBe(1);
    expect(readU64s(await ulog.request(1n, UUID, ULOG.GET_SYNC_COUNT))).toEqual([1n]);
    expect(ulog.stats).toMatchObject({ timeouts: 1, stale: 0 });
  });
});


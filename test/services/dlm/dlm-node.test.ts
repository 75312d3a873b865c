/**
 * startDlmNode and its dlm-admin service over Routers joined by memory
 * links: the report, lockspace filtering, chunked answers, a bad request
 * refused without harm, the config/flag plumbing of `dmsg relay
 * --lockspace`, and the master's grant/wait/BAST counters and metrics.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/command.ts';
import { formatLocksReport } from '../../../src/cli/commands/locks.ts';
import { collectDlmMetrics } from '../../../src/cli/dlm-metrics.ts';
import { mergeSettings, parseConfigObject, toRelayConfig, validateSettings } from '../../../src/cli/relay-config.ts';
import { DLM_ADMIN_CHUNK, DLM_ADMIN_CMD, DLM_ADMIN_SERVICE, Dlm, fetchLocks, startDlmNode, type DlmNode } from '../../../src/services/dlm/index.ts';
import { DMSG, DMSG_ERR, TransactionError } from '../../../src/span/index.ts';
import { ManualClock } from '../../../src/util/clock.ts';
import { createMesh, until, type Mesh } from '../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const nodes: DlmNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) n.close();
  await mesh?.close();
  mesh = null;
});

async function twoNodes(lockspaces: string[]): Promise<[DlmNode, DlmNode]> {
  mesh = createMesh(2, [[0, 1]]);
  const clock = new ManualClock();
  const n0 = await startDlmNode(mesh.routers[0]!, { lockspaces, clock });
  const n1 = await startDlmNode(mesh.routers[1]!, { lockspaces, clock });
  nodes.push(n0, n1);
  await until(() => lockspaces.every((l) => n0.lockspace(l)!.raw.members.length === 2 && n1.lockspace(l)!.raw.members.length === 2), 'two members');
  return [n0, n1];
}

describe('startDlmNode and dlm-admin', () => {
  it('answers LOCKS with the report of every lockspace or of one; close() withdraws the service', async () => {
    const [n0, n1] = await twoNodes(['a', 'b']);
    const lk = await n0.lockspace('a')!.lock('r1', 'PR');
    const r0 = mesh!.routers[0]!;
    await until(() => r0.spans(DLM_ADMIN_SERVICE).some((s) => s.node === mesh!.routers[1]!.nodeId), 'admin span of node 1');
    const span = r0.spans(DLM_ADMIN_SERVICE).find((s) => s.node === mesh!.routers[1]!.nodeId)!;
    const all = await fetchLocks(r0, span);
    expect(all.node).toBe('n1');
    expect(all.nodeid).toBe(n1.dlm.nodeid);
    expect(all.lockspaces.map((l) => l.name).sort()).toEqual(['a', 'b']);
    const own = r0.spans(DLM_ADMIN_SERVICE).find((s) => s.node === r0.nodeId)!;
    const one = await fetchLocks(r0, own, 'a');
    expect(one.lockspaces.map((l) => l.name)).toEqual(['a']);
    const res = one.lockspaces[0]!.resources.find((r) => r.name === 'r1')!;
    expect(res.grant).toHaveLength(1);
    expect(res.grant[0]!.grmode).toBe(3);
    expect(formatLocksReport(one)).toContain('resource "r1"');
    expect((await fetchLocks(r0, own, 'nope')).lockspaces).toEqual([]);
    await lk.unlock();
  });

  it('a large report comes in several chunks and is reassembled', async () => {
    mesh = createMesh(1, []);
    const n = await startDlmNode(mesh.routers[0]!, { lockspaces: ['big'], clock: new ManualClock() });
    nodes.push(n);
    const ls = n.lockspace('big')!;
    for (let i = 0; i < 1500; i++) await ls.lock(`resource-with-a-long-name-${i}`, 'NL');
    const r = mesh.routers[0]!;
    const span = r.spans(DLM_ADMIN_SERVICE)[0]!;
    const msgs = await lastValueFrom(r.open(span, DLM_ADMIN_CMD.LOCKS, { aux: new TextEncoder().encode('big'), delete: true }).rx$.pipe(toArray()));
    expect(msgs.filter((m) => m.aux.length > 0).length).toBeGreaterThan(1);
    expect(Math.max(...msgs.map((m) => m.aux.length))).toBeLessThanOrEqual(DLM_ADMIN_CHUNK);
    const report = await fetchLocks(r, span, 'big');
    expect(report.lockspaces[0]!.resources).toHaveLength(1500);
  });

  it('refuses another command or an oversized request with NOSUPP, and keeps serving', async () => {
    mesh = createMesh(1, []);
    const n = await startDlmNode(mesh.routers[0]!, { lockspaces: ['x'], clock: new ManualClock() });
    nodes.push(n);
    const r = mesh.routers[0]!;
    const span = r.spans(DLM_ADMIN_SERVICE)[0]!;
    for (const [cmd, aux] of [[DMSG.DBG_SHELL, new Uint8Array(1)], [DLM_ADMIN_CMD.LOCKS, new Uint8Array(300)]] as const) {
      const got = await lastValueFrom(r.open(span, cmd, { aux, delete: true }).rx$.pipe(toArray())).catch((e: unknown) => e);
      expect(got).toBeInstanceOf(TransactionError);
      expect(got).toMatchObject({ code: 'ABORTED', dmsgError: DMSG_ERR.NOSUPP });
    }
    expect((await fetchLocks(r, span)).lockspaces.map((l) => l.name)).toEqual(['x']);
  });

  it('a bad lockspace name fails startDlmNode with EINVAL before anything is served', async () => {
    mesh = createMesh(1, []);
    await expect(startDlmNode(mesh.routers[0]!, { lockspaces: [''] })).rejects.toMatchObject({ code: 'EINVAL' });
    expect(mesh.routers[0]!.spans(DLM_ADMIN_SERVICE)).toEqual([]);
  });
});

describe('master counters and metrics', () => {
  it('grants, waits and BASTs are counted on the master, per lockspace', async () => {
    const dlm = new Dlm({ nodeid: 1 });
    const ls = await dlm.join('c');
    const a = await ls.lock('r', 'EX');
    const pb = ls.lock('r', 'PR');
    await new Promise((r) => setImmediate(r));
    expect(ls.raw.stats).toMatchObject({ grants: 1, waits: 1, basts: 1 });
    await a.unlock();
    const b = await pb;
    expect(ls.raw.stats).toMatchObject({ grants: 2, waits: 1, basts: 1 });
    await b.convert('EX');
    expect(ls.raw.stats.grants).toBe(3);
    await b.unlock();
    dlm.close();
  });

  it('collectDlmMetrics labels each family by lockspace', async () => {
    const [n0] = await twoNodes(['m1', 'm2']);
    const lk = await n0.lockspace('m1')!.lock('r', 'EX');
    const fam = collectDlmMetrics(n0);
    const grants = fam.find((f) => f.name === 'dmsg_dlm_grants_total')!;
    expect(grants.type).toBe('counter');
    expect(grants.samples.map((s) => s.labels!['lockspace']).sort()).toEqual(['m1', 'm2']);
    const members = fam.find((f) => f.name === 'dmsg_dlm_members')!;
    expect(members.samples.every((s) => s.value === 2)).toBe(true);
    await lk.unlock();
  });
});

describe('dmsg relay --lockspace / config "lockspaces"', () => {
  it('a config list and the flag reach RelayConfig.lockspaces; the flag replaces the file', () => {
    const file = parseConfigObject({ listen: ['127.0.0.1:0'], lockspaces: ['one', 'two'] }, 'cfg', '/');
    expect(toRelayConfig(mergeSettings(file, {})).lockspaces).toEqual(['one', 'two']);
    expect(toRelayConfig(mergeSettings(file, { lockspaces: ['three'] })).lockspaces).toEqual(['three']);
    expect(toRelayConfig(mergeSettings(file, { lockspaces: [] })).lockspaces).toEqual(['one', 'two']);
    expect(toRelayConfig(mergeSettings({ listen: ['127.0.0.1:0'] }, {})).lockspaces).toBeUndefined();
  });

  it('an empty or too long name is a usage error', () => {
    for (const bad of ['', 'x'.repeat(65)]) {
      const s = mergeSettings({ listen: ['127.0.0.1:0'], lockspaces: [bad] }, {});
      expect(() => validateSettings(s)).toThrow(UsageError);
      expect(() => validateSettings(s)).toThrow(/--lockspace: lockspace name must be 1\.\.64 bytes/);
    }
    expect(() => parseConfigObject({ lockspaces: 7 }, 'cfg', '/')).toThrow(/"lockspaces" must be a string or an array of strings/);
  });
});

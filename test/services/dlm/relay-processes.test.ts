/**
 * The DLM across real processes: three `dmsg relay --lockspace app`
 * processes on 127.0.0.1 in a line (r1 - r2 - r3), and two DLM nodes in
 * this process (A linked to r1, B linked to r3) in the same lockspace, so
 * every DLM message between A and B crosses the three relay processes over
 * TCP. A resource whose directory node is r2 (a relay process) is mastered
 * by A (first requester); B's request, conversion and BASTs go through r2's
 * directory and the relays. `dmsg locks` (the real bin) prints what each
 * node holds.
 *
 * No sleeps: waits are on conditions (bounded polls) or on bin output lines.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startRelay, type RelayHandle } from '../../../src/cli/relay-daemon.ts';
import { defaultResourceHash, directoryNode, type DlmLock, type LocksReport } from '../../../src/services/dlm/index.ts';
import { nodeidOf } from '../../../src/services/midcomms/index.ts';
import { runBin, startBin, type RunningBin } from '../../cli/bin.ts';

const procs: RunningBin[] = [];
const relays: RelayHandle[] = [];
afterAll(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.done));
});

/** Poll `cond` on timer turns until true; a safety net of `ms` (not a synchronisation). */
async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function relayProcess(name: string, args: string[]): Promise<{ proc: RunningBin; addr: string }> {
  const proc = startBin(['relay', '--name', name, '--lockspace', 'app', '--backoff-min-ms', '20', ...args], { safetyMs: 60_000 });
  procs.push(proc);
  const addr = (await proc.waitFor('stdout', /^listening (\S+)$/))[1]!;
  await proc.waitFor('stderr', /dlm: joined lockspace app/);
  return { proc, addr };
}

describe('DLM over three dmsg relay processes', () => {
  it('mastering, directory lookup in a relay process, remote grant, BASTs and conversions; dmsg locks shows each side', async () => {
    const r1 = await relayProcess('r1', ['--listen', '127.0.0.1:0']);
    const r2 = await relayProcess('r2', ['--listen', '127.0.0.1:0', '--connect', r1.addr]);
    const r3 = await relayProcess('r3', ['--listen', '127.0.0.1:0', '--connect', r2.addr]);
    const a = await startRelay({ name: 'A', listen: ['127.0.0.1:0'], connect: [r1.addr], lockspaces: ['app'], backoff: { minMs: 20 } });
    relays.push(a);
    const b = await startRelay({ name: 'B', connect: [r3.addr], lockspaces: ['app'], backoff: { minMs: 20 } });
    relays.push(b);
    const lsA = a.dlm!.lockspace('app')!;
    const lsB = b.dlm!.lockspace('app')!;
    await until(() => lsA.raw.members.length === 5 && lsB.raw.members.length === 5, 'five members in lockspace app on A and B');
    expect(lsA.raw.members).toEqual(lsB.raw.members);

    // A resource whose directory node is r2 (the middle relay process).
    const r2node = a.router.members('dlm:app').find((m) => m.name === 'r2')!;
    expect(r2node).toBeDefined();
    const r2id = nodeidOf(r2node.node);
    const members = lsA.raw.members;
    let res = '';
    for (let i = 0; res === '' && i < 10_000; i++) if (directoryNode(defaultResourceHash(new TextEncoder().encode(`res-${i}`)), members) === r2id) res = `res-${i}`;
    expect(res).not.toBe('');

    // A: first requester, becomes master (after a lookup at r2).
    const la = await lsA.lock(res, 'EX');
    const bastsA: string[] = [];
    la.bast$.subscribe((m) => bastsA.push(m));
    expect(lsA.raw.dump().find((r) => r.name === res)).toMatchObject({ master: a.dlm!.dlm.nodeid, dir: r2id });

    // B asks for PR: its lookup at r2 names A; A queues it and sends A's holder a BAST (PR).
    let lb: DlmLock | null = null;
    const pb = lsB.lock(res, 'PR').then((l) => (lb = l));
    await until(() => bastsA.length === 1, 'BAST PR to A');
    expect(bastsA).toEqual(['PR']);
    expect(lb).toBeNull();

    // A converts down to PR, writing the LVB: B is granted remotely and reads it.
    const lvb = new Uint8Array(32);
    lvb.set([1, 2, 3, 4]);
    await la.convert('PR', { lvb });
    await pb;
    expect(lb!.mode).toBe('PR');
    expect([...lb!.lvb!.subarray(0, 4)]).toEqual([1, 2, 3, 4]);
    const onB = lsB.raw.dump().find((r) => r.name === res)!;
    expect(onB.master).toBe(a.dlm!.dlm.nodeid);
    expect(onB.grant.map((l) => [l.role, l.grmode])).toEqual([['process', 3]]);

    // B converts up to EX: blocked by A's PR, BAST EX to A; A unlocks, B's conversion is granted.
    const bastsB: string[] = [];
    lb!.bast$.subscribe((m) => bastsB.push(m));
    const cb = lb!.convert('EX');
    await until(() => bastsA.length === 2, 'BAST EX to A');
    expect(bastsA).toEqual(['PR', 'EX']);

    // While B waits: dmsg locks on A (the master) shows A's local lock granted and B's master copy converting.
    const onA = await runBin(['locks', a.addresses[0]!, 'app', '--json']);
    expect(onA.stderr).toBe('');
    expect(onA.code).toBe(0);
    const reportA = JSON.parse(onA.stdout) as LocksReport;
    expect(reportA.node).toBe('A');
    const resA = reportA.lockspaces[0]!.resources.find((r) => r.name === res)!;
    expect(resA.master).toBe(a.dlm!.dlm.nodeid);
    expect(resA.grant.map((l) => [l.role, l.grmode])).toEqual([['local', 3]]);
    expect(resA.convert.map((l) => [l.role, l.grmode, l.rqmode, l.nodeid])).toEqual([['master', 3, 5, b.dlm!.dlm.nodeid]]);
    expect(reportA.lockspaces[0]!.stats.basts).toBe(2);
    expect(reportA.lockspaces[0]!.stats.waits).toBe(2);

    // The directory record on r2 (a relay process): master A, no locks held there.
    const onR2 = await runBin(['locks', r2.addr, 'app', '--json']);
    expect(onR2.code).toBe(0);
    const reportR2 = JSON.parse(onR2.stdout) as LocksReport;
    expect(reportR2.node).toBe('r2');
    expect(reportR2.nodeid).toBe(r2id);
    const dirRec = reportR2.lockspaces[0]!.resources.find((r) => r.name === res)!;
    expect(dirRec).toMatchObject({ master: a.dlm!.dlm.nodeid, dir: r2id, grant: [], convert: [], wait: [] });

    // The text form, like dlm_tool lockdump.
    const text = await runBin(['locks', a.addresses[0]!]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^node A \(dlm nodeid \d+\): 1 lockspace\n/);
    expect(text.stdout).toContain(`resource "${res}" master ${a.dlm!.dlm.nodeid} dir ${r2id}`);
    expect(text.stdout).toMatch(/ granted:\n {2}[0-9a-f]{8} PR local local\n converting:\n {2}[0-9a-f]{8} PR \(EX\) master owner \d+/);

    await la.unlock();
    await cb;
    expect(lb!.mode).toBe('EX');
    expect(bastsB).toEqual([]);

    // Metrics: the master's grants, waits and BASTs per lockspace in the relay's registry.
    const metrics = a.ops.registry.render();
    expect(metrics).toContain('dmsg_dlm_basts_total{lockspace="app"} 2');
    expect(metrics).toMatch(/dmsg_dlm_grants_total\{lockspace="app"\} [1-9]/);
    expect(metrics).toContain('dmsg_dlm_waits_total{lockspace="app"} 2');
    expect(metrics).toContain('dmsg_dlm_members{lockspace="app"} 5');

    // A relay without a DLM: a clear error, exit 1.
    const plain = await startRelay({ name: 'plain', listen: ['127.0.0.1:0'] });
    relays.push(plain);
    const none = await runBin(['locks', plain.addresses[0]!, '--timeout-ms', '300']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('runs no DLM');
    await lb!.unlock();
  }, 40_000);
});

/**
 * Scripted scenarios of the membership-view protocol (3 nodes, one virtual
 * clock, deterministic delivery) and option validation.
 */
import { describe, expect, it } from 'vitest';
import { initViewsState, resolveViewsOptions, step, ViewsOptionsError } from '../../../../src/services/dlm/views/index.ts';
import type { Message, ViewsOutput, ViewsState } from '../../../../src/services/dlm/views/index.ts';

const VOTERS = [1, 2, 3];

function cluster() {
  const nodes = new Map<number, ViewsState>(VOTERS.map((self) => [self, initViewsState(resolveViewsOptions({ self, voters: VOTERS, seed: self }), 0)]));
  const timers = new Map<number, Record<string, number>>(VOTERS.map((n) => [n, { election: nodes.get(n)!.electionAt }]));
  const outputs: { t: number; node: number; out: ViewsOutput }[] = [];
  let net: Message[] = [];
  let now = 0;
  const side = new Map<number, number>(VOTERS.map((n) => [n, 0]));
  const apply = (n: number, ev: Parameters<typeof step>[1]): void => {
    const r = step(nodes.get(n)!, ev);
    nodes.set(n, r.state);
    for (const t of r.timers) timers.get(n)![t.kind] = t.at;
    net.push(...r.messages);
    for (const out of r.outputs) outputs.push({ t: now, node: n, out });
  };
  /** Run until `until`, delivering messages 5 time units after sending, only within a side. */
  const run = (until: number): void => {
    const pending: { at: number; m: Message }[] = [];
    while (now < until) {
      for (const m of net) pending.push({ at: now + 5, m });
      net = [];
      for (const p of pending.filter((p) => p.at <= now)) {
        pending.splice(pending.indexOf(p), 1);
        if (side.get(p.m.from) === side.get(p.m.to)) apply(p.m.to, { type: 'message', now, message: p.m });
      }
      for (const n of VOTERS) for (const [kind, at] of Object.entries(timers.get(n)!)) {
        if (at <= now) { delete timers.get(n)![kind]; apply(n, { type: 'timer', now, kind: kind as 'election' }); }
      }
      if (!net.length) now++;
    }
  };
  const status = (n: number): string | undefined => outputs.filter((o) => o.node === n && o.out.type === 'status').at(-1)?.out.type === 'status' ? (outputs.filter((o) => o.node === n && o.out.type === 'status').at(-1)!.out as { text: string }).text : undefined;
  return { nodes, outputs, side, run, apply, status, get now() { return now; } };
}

describe('membership views: scenarios', () => {
  it('elects a leader, grants under view 0, and an isolated leader stops and says minority while the others commit view 1', () => {
    const c = cluster();
    c.run(2000);
    const leader = VOTERS.find((n) => c.nodes.get(n)!.role === 'leader')!;
    expect(leader).toBeDefined();
    for (const n of VOTERS) expect(c.status(n)).toMatch(/of view 0 \(granting\)/);
    // Isolate the leader; the spans on each side report who is visible.
    c.side.set(leader, 1);
    const rest = VOTERS.filter((n) => n !== leader);
    const cutAt = c.now;
    c.apply(leader, { type: 'propose', now: c.now, members: [leader] });
    for (const n of rest) c.apply(n, { type: 'propose', now: c.now, members: rest });
    c.run(cutAt + 3000);
    expect(c.status(leader)).toMatch(/minority: waiting/);
    const stop = c.outputs.find((o) => o.node === leader && o.t > cutAt && o.out.type === 'stopped');
    expect(stop).toBeDefined();
    const committed = c.outputs.find((o) => o.out.type === 'committed' && o.out.view === 1);
    expect(committed?.out).toEqual({ type: 'committed', view: 1, members: rest });
    // Nobody granted view 1 before the isolated leader's last lease ran out.
    const lastOld = Math.max(...c.outputs.filter((o) => o.out.type === 'granting' && o.out.view === 0).map((o) => (o.out as { until: number }).until));
    const firstNew = Math.min(...c.outputs.filter((o) => o.out.type === 'granting' && o.out.view === 1).map((o) => o.t));
    expect(firstNew).toBeGreaterThanOrEqual(lastOld);
    for (const n of rest) expect(c.status(n)).toMatch(/of view 1 \(granting\)/);
    // Heal: everyone sees everyone again, converge on view 2 with all three.
    c.side.set(leader, 0);
    for (const n of VOTERS) c.apply(n, { type: 'propose', now: c.now, members: VOTERS });
    c.run(c.now + 3000);
    for (const n of VOTERS) expect(c.status(n)).toMatch(/of view 2 \(granting\)/);
  });

  it('validates options with a stable code', () => {
    expect(() => resolveViewsOptions({ self: 4, voters: VOTERS })).toThrow(ViewsOptionsError);
    expect(() => resolveViewsOptions({ self: 1, voters: [1, 1] })).toThrow(/repeat/);
    expect(() => resolveViewsOptions({ self: 1, voters: VOTERS, lease: 10, heartbeatInterval: 50 })).toThrow(/lease/);
    expect(() => resolveViewsOptions({ self: 1, voters: VOTERS, electionMin: 10, electionMax: 5 })).toThrow(/electionMax/);
    let err: unknown;
    try { resolveViewsOptions({ self: 1, voters: [] }); } catch (e) { err = e; }
    expect((err as ViewsOptionsError | undefined)?.code).toBe('VIEWS_BAD_OPTION');
    expect(resolveViewsOptions({ self: 2, voters: [3, 2, 1] })).toMatchObject({ voters: [1, 2, 3], electionMin: 150, electionMax: 300, heartbeatInterval: 50, lease: 400 });
  });
});

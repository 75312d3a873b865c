/**
 * Recovery scenarios on the simulated cluster (test/services/dlm/cluster.ts):
 * `kill(id)` makes a node silent for good (its lockspace stopped, its
 * outgoing messages held forever); `recover(opts)` stops every live node,
 * then starts them all with the live list (the manager's "stop on all
 * before start on any"), and settles the simulation (timers included, on
 * the ManualClock). `queues(node, name)` shows one node's view of a resource;
 * `holdAmong()`/`step()`/`releaseAmong()` deliver messages round by round.
 */
import { modeName, type ResourceHash, type StartOptions } from '../../../../src/services/dlm/index.ts';
import { cluster } from '../cluster.ts';

export function recoveryCluster(n = 3, opts: { lvblen?: number; hash?: ResourceHash; nodir?: boolean } = {}) {
  const c = cluster(n, opts);
  const dead = new Set<number>();
  const live = (): number[] => c.ids.filter((id) => !dead.has(id));
  const kill = (id: number): void => {
    dead.add(id);
    c.ls.get(id)!.stop();
    for (const other of c.ids) if (other !== id) c.sim.hold(id, other);
  };
  /** Stop all live nodes, then start them all with the live list. */
  const restart = (startOpts: StartOptions = {}, members = live()): void => {
    for (const id of members) c.ls.get(id)!.stop();
    for (const id of members) c.ls.get(id)!.start(members, startOpts);
  };
  const recover = async (startOpts: StartOptions = {}): Promise<string[]> => {
    restart(startOpts);
    await c.sim.settle();
    return c.log.splice(0);
  };
  const queues = (node: number, name: string): string => {
    const r = c.ls.get(node)!.dump().find((d) => d.name === name);
    if (!r) return '(none)';
    const f = (l: { nodeid: number; grmode: number; rqmode: number; role: string }): string =>
      `${l.role === 'master' ? `n${l.nodeid}` : 'own'}:${l.grmode >= 0 ? modeName(l.grmode) : ''}${l.rqmode >= 0 ? '>' + modeName(l.rqmode) : ''}`;
    return `m${r.master} G[${r.grant.map(f).join(' ')}] C[${r.convert.map(f).join(' ')}] W[${r.wait.map(f).join(' ')}]`;
  };
  const settle = async (): Promise<string[]> => {
    await c.sim.settle();
    return c.log.splice(0);
  };
  /** Hold every message among `ids`; `step()` then delivers one round (what was held), holding the answers. */
  const pairs = (ids: readonly number[]): [number, number][] => ids.flatMap((a) => ids.filter((b) => b !== a).map((b): [number, number] => [a, b]));
  const holdAmong = (ids = live()): void => {
    for (const [a, b] of pairs(ids)) c.sim.hold(a, b);
  };
  const step = (ids = live()): void => {
    for (const [a, b] of pairs(ids)) {
      if (c.sim.heldCount(a, b) === 0) continue;
      c.sim.release(a, b);
      c.sim.hold(a, b);
    }
    c.sim.runPending();
  };
  const releaseAmong = (ids: readonly number[]): void => {
    for (const [a, b] of pairs(ids)) c.sim.release(a, b);
  };
  return { ...c, dead, live, kill, restart, recover, queues, settle, holdAmong, step, releaseAmong };
}

/**
 * Steps the owner/orphan tests (test/services/dlm/orphan.test.ts, spec
 * §2.11) repeat on the simulated cluster of test/services/dlm/cluster.ts:
 * take a lock for an owner (a process id) on the holder's node, make one
 * node master a resource, and hand a node a forged lock message.
 */
import { LKM } from '../../src/services/dlm/index.ts';
import { DLM_VERSION, encodeMessage, type DlmMessage } from '../../src/services/dlm/message.ts';
import type { cluster, RemoteHolder } from '../services/dlm/cluster.ts';

/** The cluster `cluster()` builds. */
export type SimCluster = ReturnType<typeof cluster>;

/** `h` requests `name` in `mode` for owner `owner` on its own node; returns the request's status (0 = queued). */
export function lockOwned(c: SimCluster, h: RemoteHolder, mode: number, name: string, owner: number, flags = 0): number {
  return c.ls.get(h.node)!.lock(mode, h.lksb, flags, name, h.ast, undefined, h.bast, owner);
}

/**
 * Node `node` takes `name` in NL and keeps it, so it masters `name` (the
 * first requester masters a resource); runs the cluster until idle. Returns
 * the holder of the NL lock.
 */
export function masterOn(c: SimCluster, node: number, name: string): RemoteHolder {
  const own = c.holder(node, 'own');
  c.lock(own, LKM.NL, name);
  c.run();
  return own;
}

/** Deliver `m` to node `to` as if node `from` had sent it for lockspace 'ls' (a copy of the bytes, as the wire gives). */
export function injectMessage(c: SimCluster, from: number, to: number, m: DlmMessage): void {
  c.sim.inject(from, to, encodeMessage({ version: DLM_VERSION, lockspace: c.ls.get(to)!.globalId, nodeid: from }, m).slice());
}

/**
 * A clean leave on the mesh (spec §4.1: a node that releases a lockspace has
 * not failed, so the others recover it without `recoverSlot`). A node
 * leaving lockspace `name` first serves the marker service
 * `dlm-left:<name>` (a tombstone: nothing is opened on it), then withdraws
 * its membership `dlm:<name>`; spans reach each peer in that order, so a
 * peer that sees the node stop serving `dlm:<name>` while it serves
 * `dlm-left:<name>` knows it left cleanly. A node that dies serves neither:
 * a failure. The tombstone lives as long as the router's run (a restart is a
 * new run without it) or until the node joins the lockspace again.
 */
import type { Router, Service } from '../../../span/index.ts';
import { nodeidOf } from '../../midcomms/index.ts';
import type { NodeId } from './types.ts';

/** The tombstone service of lockspace `name`. */
export function leftService(name: string): string {
  return `dlm-left:${name}`;
}

/** Tombstones this process serves, per router and lockspace. */
const tombstones = new WeakMap<Router, Map<string, Service>>();

/** Announce a clean leave of `name` (before withdrawing the membership service). Idempotent. */
export function serveLeftMarker(router: Router, name: string): void {
  const mine = tombstones.get(router) ?? tombstones.set(router, new Map()).get(router)!;
  if (mine.has(name)) return;
  mine.set(
    name,
    router.serve(leftService(name), (tx) => {
      tx.rx$.subscribe({ error: () => {} });
      tx.close();
    }),
  );
}

/** Joining `name` again: the tombstone goes. */
export function clearLeftMarker(router: Router, name: string): void {
  const mine = tombstones.get(router);
  mine?.get(name)?.close();
  mine?.delete(name);
}

/** DLM node ids of the other routers that announced a clean leave of `name` (and still serve the tombstone). */
export function cleanlyLeft(router: Router, name: string): Set<NodeId> {
  const out = new Set<NodeId>();
  for (const m of router.members(leftService(name))) if (!m.local) out.add(nodeidOf(m.node));
  return out;
}

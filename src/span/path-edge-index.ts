/**
 * Which received links' paths cross a given link of the mesh, for
 * root-cause notification (root-cause.ts): a path edge is (upstream id,
 * downstream id, the link's incarnation at the downstream router). Indexed
 * by downstream id and incarnation (random per link, so nearly unique),
 * with nested maps so no key string is made per path element; linksOver()
 * checks the upstream id. Cost: O(path length) per add/remove, O(links
 * returned) per lookup, instead of a walk of the whole table.
 */
import type { NodeId } from './path-record.ts';

export class PathEdgeIndex {
  readonly #byEdge = new Map<NodeId, Map<number, Map<string, { path: readonly NodeId[]; hops: readonly number[] }>>>();

  /** Index a link's path (with its per-hop incarnations; none: not indexed). */
  add(linkId: string, path: readonly NodeId[], hops: readonly number[] | undefined): void {
    if (hops === undefined) return;
    const entry = { path, hops };
    for (let i = 1; i < path.length; i++) {
      const b = path[i]!;
      let byInc = this.#byEdge.get(b);
      if (!byInc) this.#byEdge.set(b, (byInc = new Map()));
      let ids = byInc.get(hops[i]!);
      if (!ids) byInc.set(hops[i]!, (ids = new Map()));
      ids.set(linkId, entry);
    }
  }

  remove(linkId: string, path: readonly NodeId[], hops: readonly number[] | undefined): void {
    if (hops === undefined) return;
    for (let i = 1; i < path.length; i++) {
      const b = path[i]!;
      const byInc = this.#byEdge.get(b);
      const ids = byInc?.get(hops[i]!);
      if (!ids) continue;
      ids.delete(linkId);
      if (ids.size === 0) {
        byInc!.delete(hops[i]!);
        if (byInc!.size === 0) this.#byEdge.delete(b);
      }
    }
  }

  /** Ids of the links whose path crosses a → b at incarnation `inc` (as root-cause.ts pathUsesLink). */
  linksOver(a: NodeId, b: NodeId, inc: number): string[] {
    const ids = this.#byEdge.get(b)?.get(inc);
    if (!ids) return [];
    const out: string[] = [];
    for (const [id, { path, hops }] of ids) {
      for (let i = 1; i < path.length; i++) {
        if (path[i] === b && hops[i] === inc && path[i - 1] === a) {
          out.push(id);
          break;
        }
      }
    }
    return out;
  }
}

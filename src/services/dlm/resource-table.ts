/**
 * A lockspace's resources by name (the kernel's `ls_rsbtbl`) and their
 * retirement (§3.5): a resource is found or created by name, revived when
 * it is used again during its retirement delay, queued for retirement when
 * its last lock goes (the LVB discarded on the master; a directory record
 * for a remote master kept instead), and dropped when the delay ran out
 * (its directory node told with REMOVE when it is mastered here) or when
 * recovery or a purge forgets it. Dropping raises the lockspace's fence
 * floor (fence-rules.ts). The delay's timer is retirement-queue.ts.
 *
 * Internal to the Lockspace (lockspace.ts), which keeps the public entry
 * points (findRsbByName, createRsb, revive, checkUnused, forgetRsb).
 */
import { latin1 as latin1_ } from './byte-key.ts';
import type { LockspaceHost } from './lockspace-host.ts';
import { sendRemove } from './lockspace-lifecycle.ts';
import type { Lockspace } from './lockspace.ts';
import { Resource } from './resource.ts';
import { RetirementQueue } from './retirement-queue.ts';

// A local copy: a transpiler may turn imported bindings into getters on hot paths.
const latin1 = latin1_;

/** @internal */
export class ResourceTable {
  /** Resources by name key (byte-key.ts); the Lockspace's `rsbs`. */
  readonly byKey = new Map<string, Resource>();
  /** Unused resources waiting out their retirement delay. */
  readonly retirement: RetirementQueue<Resource>;
  readonly #ls: Lockspace;
  readonly #host: LockspaceHost;
  readonly #ourNodeid: number;
  /**
   * The resource found last by name bytes (a REQUEST's name on the master):
   * the next lookup of the same bytes compares them with its name instead of
   * making a key string and hashing it. Used only while it is still the
   * table's entry for its key.
   */
  #last: Resource | null = null;

  /** `paused()`: no retirement while true (locking stopped; the gate's resume restarts it). */
  constructor(ls: Lockspace, host: LockspaceHost, paused: () => boolean) {
    this.#ls = ls;
    this.#host = host;
    this.#ourNodeid = host.nodeid;
    this.retirement = new RetirementQueue(host.clock, host.tossMs, paused, (r) => this.#retire(r));
  }

  /** Find a resource; revive it from the inactive cache; create it when `create`. */
  find(name: Uint8Array, create: boolean): Resource | undefined {
    let r = this.#cached(name);
    if (r !== undefined) {
      this.revive(r);
      return r;
    }
    const key = latin1(name);
    r = this.byKey.get(key);
    if (r) {
      this.#last = r;
      this.revive(r);
      return r;
    }
    if (!create) return undefined;
    r = new Resource(name.slice(), key, this.#host.hash(name) >>> 0);
    this.byKey.set(key, r);
    return r;
  }

  /** The resource of that name, if known (no revival). */
  byName(name: Uint8Array): Resource | undefined {
    const hit = this.#cached(name);
    if (hit !== undefined) return hit;
    const r = this.byKey.get(latin1(name));
    if (r !== undefined) this.#last = r;
    return r;
  }

  /** The last resource found, if `name` is its name and it is still in the table. */
  #cached(name: Uint8Array): Resource | undefined {
    const last = this.#last;
    if (last === null) return undefined;
    const n = last.name;
    if (n.length !== name.length) return undefined;
    for (let i = 0; i < n.length; i++) if (n[i] !== name[i]) return undefined;
    // Dropped or replaced since (forget, retire, a teardown's clear): not a hit.
    if (this.byKey.get(last.key) !== last) {
      this.#last = null;
      return undefined;
    }
    return last;
  }

  /** Back in use: stop its retirement; a cached remote master may be stale (§3.5). */
  revive(r: Resource): void {
    if (r.toss !== null) {
      this.retirement.revive(r);
      const us = this.#ourNodeid;
      if (r.master !== 0 && r.master !== us && this.#ls.dirNodeOf(r) !== us) r.uncertain = true;
    }
    r.dirRecord = false;
  }

  /** The last lock went: discard the LVB on the master and start the retirement delay (§3.5). */
  checkUnused(r: Resource): void {
    if (!r.unused || r.toss !== null || r.dirRecord) return;
    const us = this.#ourNodeid;
    if (r.master === us) r.discardLvb();
    if (r.master !== us && r.master !== 0 && this.#ls.dirNodeOf(r) === us) {
      // A directory record for a remote master stays until that master sends REMOVE.
      r.dirRecord = true;
      r.uncertain = false;
      return;
    }
    this.retirement.add(r);
  }

  /** Drop a resource from the table (and from the retirement queue). */
  forget(r: Resource): void {
    this.#ls.raiseFenceFloor(r.fenceHigh);
    this.retirement.remove(r);
    if (this.byKey.get(r.key) === r) this.byKey.delete(r.key);
  }

  /** The retirement delay ran out: drop it, telling its directory node when mastered here. */
  #retire(r: Resource): void {
    r.toss = null;
    if (!r.unused || this.byKey.get(r.key) !== r) return;
    const ls = this.#ls;
    const dir = ls.dirNodeOf(r);
    if (r.master === this.#ourNodeid && dir !== this.#ourNodeid && !ls.nodir) {
      sendRemove(ls, r, dir);
    }
    ls.raiseFenceFloor(r.fenceHigh);
    this.byKey.delete(r.key);
  }
}

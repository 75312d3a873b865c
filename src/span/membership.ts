/**
 * Membership: which routers offer each service, as join/leave events and a
 * snapshot. Fed by discovery with every instance's current SpanInfo; a
 * member is a (router node id, incarnation) offering at least one instance
 * of the service. A router that restarts comes back with a new incarnation:
 * its old membership leaves and a new one joins (the DLM turns these into
 * lockspace membership; midcomms resets its sessions on them).
 */
import { Observable, Subject } from 'rxjs';
import type { Member, MemberEvent, SpanInfo } from './router-types.ts';

interface Entry {
  readonly service: string;
  readonly key: string;
  readonly node: string;
  readonly name: string | null;
  readonly incarnation: number | null;
  readonly local: boolean;
  /** Instance node keys → instance names. */
  readonly instances: Map<string, string>;
}

/** Membership of a span: the node id, or the instance id when no node is known. */
function memberKey(info: SpanInfo): string {
  return `${info.node ?? info.instanceId}|${info.incarnation ?? ''}`;
}

export class Membership {
  readonly events$: Observable<MemberEvent>;
  readonly #events = new Subject<MemberEvent>();
  /** service → member key → entry. */
  readonly #byService = new Map<string, Map<string, Entry>>();
  /** Instance node key → the member entry it counts for. */
  readonly #ofInstance = new Map<string, Entry>();

  constructor() {
    this.events$ = this.#events.asObservable();
  }

  /** An instance's current span (null: gone). */
  update(key: string, info: SpanInfo | null): void {
    const before = this.#ofInstance.get(key);
    if (info !== null && before !== undefined && before.key === memberKey(info) && before.service === info.service) return;
    if (before !== undefined) {
      this.#ofInstance.delete(key);
      const lastName = before.instances.get(key)!;
      before.instances.delete(key);
      if (before.instances.size === 0) {
        const last = Object.freeze({ ...toMember(before), instances: Object.freeze([lastName]) });
        const members = this.#byService.get(before.service)!;
        members.delete(before.key);
        if (members.size === 0) this.#byService.delete(before.service);
        // The leaving member as it was last: with the instance it had.
        this.#events.next({ type: 'leave', service: before.service, member: last });
      }
    }
    if (info === null) return;
    const mk = memberKey(info);
    let members = this.#byService.get(info.service);
    if (!members) this.#byService.set(info.service, (members = new Map()));
    let entry = members.get(mk);
    const joined = entry === undefined;
    if (!entry) {
      entry = { service: info.service, key: mk, node: info.node ?? info.instanceId, name: info.nodeName, incarnation: info.incarnation, local: info.via === null, instances: new Map() };
      members.set(mk, entry);
    }
    entry.instances.set(key, info.instance);
    this.#ofInstance.set(key, entry);
    if (joined) this.#events.next({ type: 'join', service: info.service, member: toMember(entry) });
  }

  /** The routers offering `service` now: this router first, then by node id. */
  members(service: string): Member[] {
    const members = this.#byService.get(service);
    if (!members) return [];
    return [...members.values()].map((e) => toMember(e)).sort((a, b) => (a.local !== b.local ? (a.local ? -1 : 1) : a.node < b.node ? -1 : a.node > b.node ? 1 : (a.incarnation ?? 0) - (b.incarnation ?? 0)));
  }

  complete(): void {
    this.#events.complete();
  }
}

function toMember(e: Entry): Member {
  return Object.freeze({ node: e.node, name: e.name, incarnation: e.incarnation, instances: Object.freeze([...e.instances.values()].sort()), local: e.local });
}

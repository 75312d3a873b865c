/**
 * The DLM on the mesh: the thin adapter between the DLM's abstract transport
 * (`DlmEndpoint`) and midcomms sessions (one per peer: ordered, exactly once,
 * across link cuts), plus lockspace membership from spans.
 *
 * ```ts
 * const mc = midcomms(router);
 * const dlm = new Dlm({ endpoint: new MidcommsEndpoint(router, mc) });
 * const ls = await joinOverSpans(router, dlm, 'app', { lvblen: 32 });   // members: whoever serves dlm:app
 * ```
 *
 * DLM node ids are midcomms node ids: `nodeidOf(router node id)`, midcomms'
 * default (a midcomms given another `nodeid` option does not fit).
 */
import { merge } from 'rxjs';
import type { Router } from '../../span/index.ts';
import { nodeidOf } from '../midcomms/index.ts';
import type { Midcomms } from '../midcomms/index.ts';
import type { DlmLockspace } from './api.ts';
import type { Dlm } from './dlm.ts';
import type { LockspaceOptions } from './options.ts';
import type { DlmEndpoint } from './transport.ts';

interface Unsubscribable {
  unsubscribe(): void;
}

/** A `DlmEndpoint` over midcomms: peers are the routers that serve midcomms. */
export class MidcommsEndpoint implements DlmEndpoint {
  readonly nodeid: number;
  readonly #router: Router;
  readonly #mc: Midcomms;
  /** DLM node id -> router node id. */
  readonly #nodes = new Map<number, string>();
  readonly #subs = new Map<string, Unsubscribable>();
  readonly #membership: Unsubscribable;
  #receiver: ((from: number, bytes: Uint8Array) => void) | null = null;
  /** Messages for a node id that no midcomms member has (dropped). */
  unknownPeer = 0;
  /** Sends midcomms refused (its session closed or fenced). */
  sendErrors = 0;

  constructor(router: Router, mc: Midcomms, options: { service?: string } = {}) {
    const service = options.service ?? 'midcomms';
    this.#router = router;
    this.#mc = mc;
    this.nodeid = mc.nodeid;
    for (const m of router.members(service)) this.#learn(m.node, m.local);
    this.#membership = router.members$(service).subscribe((e) => {
      if (e.type === 'join') this.#learn(e.member.node, e.member.local);
    });
  }

  /** A router serving midcomms: file its DLM node id and read its session. */
  #learn(node: string, local: boolean): void {
    if (local || node === this.#router.nodeId) return;
    this.#nodes.set(nodeidOf(node), node);
    if (this.#subs.has(node)) return;
    let session;
    try {
      session = this.#mc.session(node);
    } catch {
      return; // midcomms closed, or its session table is full
    }
    const from = nodeidOf(node);
    const sub = session.messages$.subscribe({
      // The message is a view into the frame: the DLM copies what it keeps.
      next: (bytes) => this.#receiver?.(from, bytes),
      complete: () => this.#subs.delete(node),
      error: () => this.#subs.delete(node),
    });
    this.#subs.set(node, sub);
  }

  send(to: number, bytes: Uint8Array): void {
    const node = this.#nodes.get(to);
    if (node === undefined) {
      this.unknownPeer++;
      return;
    }
    try {
      this.#mc.session(node).send(bytes).catch(() => {
        this.sendErrors++;
      });
    } catch {
      this.sendErrors++;
    }
  }

  setReceiver(receiver: ((from: number, bytes: Uint8Array) => void) | null): void {
    this.#receiver = receiver;
  }

  /** Stop reading sessions and following membership (midcomms itself stays). */
  close(): void {
    this.#membership.unsubscribe();
    for (const s of this.#subs.values()) s.unsubscribe();
    this.#subs.clear();
    this.#receiver = null;
  }
}

/** The span service a node serves while it is in lockspace `name`. */
export function lockspaceService(name: string): string {
  return `dlm:${name}`;
}

/** A lockspace whose member list follows the routers serving `dlm:<name>`. */
export interface SpanMembership {
  readonly lockspace: DlmLockspace;
  /** Member-list changes refused: always 0 now that a change runs recovery (kept for compatibility). */
  readonly refusedChanges: number;
  /** Stop following spans and withdraw this node's `dlm:<name>` service. */
  close(): void;
}

/**
 * Join lockspace `name` with its members discovered from spans: this node
 * serves `dlm:<name>`, and every join/leave of that service (among the
 * routers reachable over midcomms) restarts the lockspace with the new list
 * (stop, then start: recovery). No quorum and no split-brain protection:
 * see docs/dlm.md "Recovery".
 */
export async function joinOverSpans(router: Router, dlm: Dlm, name: string, options: Omit<LockspaceOptions, 'members'> = {}): Promise<SpanMembership> {
  const service = lockspaceService(name);
  // A member must also be reachable over midcomms (its messages are dropped until then).
  const reachable = (): Set<string> => new Set(router.members('midcomms').map((m) => m.node));
  const ids = (): number[] => {
    const mc = reachable();
    return [...new Set([dlm.nodeid, ...router.members(service).filter((m) => m.local || mc.has(m.node)).map((m) => (m.local ? dlm.nodeid : nodeidOf(m.node)))])].sort((a, b) => a - b);
  };
  const ad = router.serve(service, (tx) => {
    // Nothing is opened on this service: it only marks membership.
    tx.rx$.subscribe({ error: () => {} });
    tx.close();
  });
  let lockspace: DlmLockspace;
  try {
    lockspace = await dlm.join(name, { ...options, members: ids() });
  } catch (err) {
    ad.close();
    throw err;
  }
  const refused = 0;
  const sub = merge(router.members$(service), router.members$('midcomms')).subscribe(() => {
    const raw = lockspace.raw;
    if (raw.released) return;
    const next = ids();
    const same = next.length === raw.members.length && next.every((m, i) => m === raw.members[i]);
    if (same) return;
    raw.stop();
    raw.start(next); // recovery (docs/dlm.md "Recovery")
  });
  return {
    lockspace,
    get refusedChanges() {
      return refused;
    },
    close() {
      sub.unsubscribe();
      ad.close();
    },
  };
}

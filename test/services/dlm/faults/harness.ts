/**
 * The in-process fault harness: 5 DLM nodes, each on its own Router, and 2
 * relay routers, joined by in-memory links (every node to both relays, the
 * relays to each other). One ManualClock drives every timer (each node
 * sees it through a `NodeClock` that a kill switches off); the run moves in
 * steps: advance the clock by `stepMs`, then flush the event loop until the
 * links are quiet (bounded turns, no sleeps). Each step every node's
 * `LockClient` (dlm-history-recorder.ts) may issue one random operation and
 * the seeded fault scheduler may inject one fault:
 *
 * - `flap`: cut one node-relay or the relay-relay link, restore it later;
 *   the mesh stays connected, so no membership change (no recovery needed).
 * - `kill` / `restart`: cut every link of a node, switch its clock off, drop
 *   its objects; later a new Router with the same node id and a new DLM.
 * - `partition` / `heal`: 2|3 minority splits and 2|2|1 splits with no
 *   majority (relays assigned to sides; the isolated node loses both links).
 *
 * At the end: heal, restart the dead, settle, record the final `held`
 * snapshot, probe every held lock with a NOQUEUE request in an incompatible
 * mode from another node (must not be granted), then drain (unlock until
 * nothing is pending) and check the history with the independent checker.
 */
import { memoryPair } from '../../../../src/transport/memory.ts';
import { Router } from '../../../../src/span/router.ts';
import { Dlm, MidcommsEndpoint, joinOverSpans, type DlmMessageEvent, type SpanMembership } from '../../../../src/services/dlm/index.ts';
import { midcomms, nodeidOf, type Midcomms } from '../../../../src/services/midcomms/index.ts';
import { ManualClock, type Clock } from '../../../../src/util/clock.ts';
import type { Iocom } from '../../../../src/iocom/iocom.ts';
import { LockClient } from '../../../helpers/dlm-history-recorder.ts';
import type { HMode, HistoryEvent } from '../../../helpers/dlm-history-types.ts';
import { lcg } from '../../../helpers/mesh.ts';

/** A node's view of the shared ManualClock; `kill()` cancels its timers and ignores new ones. */
export class NodeClock implements Clock {
  readonly #base: ManualClock;
  readonly #timers = new Set<unknown>();
  #dead = false;
  constructor(base: ManualClock) {
    this.#base = base;
  }
  now(): number {
    return this.#base.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    if (this.#dead) return null;
    const h = this.#base.setTimeout(() => {
      this.#timers.delete(h);
      if (!this.#dead) fn();
    }, ms);
    this.#timers.add(h);
    return h;
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle);
    this.#base.clearTimeout(handle);
  }
  kill(): void {
    this.#dead = true;
    for (const h of this.#timers) this.#base.clearTimeout(h);
    this.#timers.clear();
  }
}

/** A node's disk: the views driver's store interface (load/save), surviving kills; a copy is kept, as a file would be. */
export class NodeDisk {
  #saved: unknown = null;
  saves = 0;
  load(): never {
    return structuredClone(this.#saved) as never;
  }
  save(state: unknown): void {
    this.#saved = structuredClone(state);
    this.saves++;
  }
}

export type FaultKind = 'flap' | 'kill' | 'partition';

export interface FaultRunOptions {
  seed: number;
  /** Workload steps before the final phase. @default 120 */
  steps?: number;
  /** Clock advance per step (ms). @default 50 */
  stepMs?: number;
  /** Faults to inject. @default ['flap'] */
  faults?: readonly FaultKind[];
  /** Probability of a new fault per step. @default 0.25 */
  faultRate?: number;
  /** Resources the workload uses. @default 6 */
  resources?: number;
  /**
   * Break the system on purpose, to show the harness and checker catch it:
   * 'private-lockspace' gives the first node's application a lockspace of
   * its own (a one-member DLM), so it grants without asking anyone.
   */
  sabotage?: 'private-lockspace';
  /** Every DLM message each node sends or receives (for diagnosing a failing seed). @default none */
  observe?: (e: DlmMessageEvent, t: number) => void;
  /**
   * More `joinOverSpans` options per node start, e.g. `voters` and
   * `views: { store: disk }`: `disk` is the node's own store (load/save of
   * the views driver's persisted state), kept across its kills and restarts
   * like a disk.
   */
  joinOptions?: (nodeids: readonly number[], nodeid: number, disk: NodeDisk) => Record<string, unknown>;
}

export interface FaultRunResult {
  readonly seed: number;
  readonly history: HistoryEvent[];
  /** Fault events injected (cuts, restores, kills, restarts, partitions, heals). */
  readonly faultEvents: number;
  readonly steps: number;
  /** Operations still pending after the drain (the checker reports them too). */
  readonly pendingAtEnd: number;
  /** Join/leave events of the lockspace's span service seen by live nodes after the start (membership churn). */
  readonly memberChanges: number;
}

const LS = 'fx';
/** A mode incompatible with each held mode (§1.4), for the final probes; NL excludes nothing. */
const PROBE: Readonly<Record<HMode, HMode | null>> = { NL: null, CR: 'EX', CW: 'PR', PR: 'PW', PW: 'PW', EX: 'CR' };
const LVBLEN = 32;
const RELAYS = 2;
const NODES = 5;

interface Slot {
  readonly index: number;
  readonly nodeId: string;
  readonly nodeid: number;
  incarnation: number;
  readonly disk: NodeDisk;
  router: Router | null;
  clock: NodeClock | null;
  dlm: NodeStack | null;
  client: LockClient | null;
}

/** What `startDlmNode` builds, without its admin service: midcomms, the endpoint, the DLM, the lockspace membership. */
interface NodeStack {
  readonly mc: Midcomms;
  readonly endpoint: MidcommsEndpoint;
  readonly dlm: Dlm;
  readonly membership: SpanMembership;
}

function closeStack(n: NodeStack): void {
  n.membership.close();
  n.dlm.close();
  n.endpoint.close();
  n.mc.destroy();
}

interface Link {
  readonly a: number;
  readonly b: number;
  iocoms: [Iocom, Iocom] | null;
}

function routerNodeId(i: number): string {
  return `00000000-0000-4000-8000-${(0xfa000 + i).toString(16).padStart(12, '0')}`;
}

async function turns(k: number): Promise<void> {
  for (let i = 0; i < k; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Run one seed; never throws for a DLM misbehaviour (the history shows it), only for harness failures. */
export async function runFaultSeed(options: FaultRunOptions): Promise<FaultRunResult> {
  const seed = options.seed;
  const steps = options.steps ?? 120;
  const stepMs = options.stepMs ?? 50;
  const kinds = options.faults ?? ['flap'];
  const faultRate = options.faultRate ?? 0.25;
  const rand = lcg(seed * 7919 + 17);
  const clock = new ManualClock(1_000_000);
  const history: HistoryEvent[] = [];
  const sink = (e: HistoryEvent): void => {
    history.push(e);
  };
  const resources = Array.from({ length: options.resources ?? 6 }, (_, i) => `res${i}`);
  // Router indices: 0..RELAYS-1 relays, then the DLM nodes.
  const total = RELAYS + NODES;
  const relays: Router[] = [];
  const slots: Slot[] = [];
  for (let i = 0; i < total; i++) {
    const nodeId = routerNodeId(i);
    if (i < RELAYS) relays.push(new Router({ name: `R${i}`, nodeId, localRnss: 1, clock, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } }));
    else slots.push({ index: i, nodeId, nodeid: nodeidOf(nodeId), incarnation: 0, disk: new NodeDisk(), router: null, clock: null, dlm: null, client: null });
  }
  const nodeids = slots.map((s) => s.nodeid);
  const routerAt = (i: number): Router | null => (i < RELAYS ? relays[i]! : slots[i - RELAYS]!.router);
  const links: Link[] = [];
  for (let r = 0; r < RELAYS; r++) for (let s = r + 1; s < RELAYS; s++) links.push({ a: r, b: s, iocoms: null });
  for (let i = RELAYS; i < total; i++) for (let r = 0; r < RELAYS; r++) links.push({ a: r, b: i, iocoms: null });
  /** Links the network allows now (partitions and flaps switch them off). */
  const allowed = new Set<Link>(links);
  let faultEvents = 0;
  const net = (what: string): void => {
    faultEvents++;
    history.push({ type: 'net', t: clock.now(), node: 0, what });
  };

  const connect = (l: Link): void => {
    const ra = routerAt(l.a);
    const rb = routerAt(l.b);
    if (!ra || !rb || l.iocoms) return;
    const [sa, sb] = memoryPair();
    l.iocoms = [ra.attach(sa).iocom, rb.attach(sb).iocom];
  };
  const disconnect = (l: Link): void => {
    if (!l.iocoms) return;
    for (const io of l.iocoms) io.destroy();
    l.iocoms = null;
  };
  /** Bring every link to what `allowed` and the live nodes say. */
  const applyNet = (): void => {
    for (const l of links) {
      const up = l.iocoms !== null && l.iocoms[0].isOpen && l.iocoms[1].isOpen;
      if (l.iocoms && !up) disconnect(l);
      const want = allowed.has(l) && routerAt(l.a) !== null && routerAt(l.b) !== null;
      if (want && !l.iocoms) connect(l);
      else if (!want && l.iocoms) disconnect(l);
    }
  };

  const flush = async (): Promise<void> => {
    // Bounded: quiet links (all written bytes read) for 3 turns in a row, at most 400 turns.
    let stable = 0;
    let last = '';
    for (let i = 0; i < 400 && stable < 3; i++) {
      await turns(1);
      let busy = false;
      const sig: number[] = [];
      for (const l of links) {
        if (!l.iocoms) continue;
        const [a, b] = l.iocoms.map((io) => io.stats());
        if (a!.queuedBytes > 0 || b!.queuedBytes > 0 || a!.messagesOut !== b!.messagesIn || b!.messagesOut !== a!.messagesIn) busy = true;
        sig.push(a!.messagesOut, b!.messagesOut);
      }
      const s = sig.join(',');
      stable = !busy && s === last ? stable + 1 : 0;
      last = s;
    }
  };
  let memberChanges = 0;
  const tick = async (ms = stepMs): Promise<void> => {
    clock.advance(ms);
    await flush();
  };
  let started = false;

  const startNode = async (slot: Slot): Promise<void> => {
    slot.incarnation++;
    const nclock = new NodeClock(clock);
    const router = new Router({ name: `N${slot.index - RELAYS}`, nodeId: slot.nodeId, localRnss: 1, clock: nclock, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
    slot.router = router;
    slot.clock = nclock;
    applyNet();
    const mc = midcomms(router, { clock: nclock });
    const endpoint = new MidcommsEndpoint(router, mc);
    const observe = options.observe;
    const dlm = new Dlm({ endpoint, clock: nclock, ...(observe ? { observer: (e: DlmMessageEvent) => observe(e, clock.now()) } : {}) });
    const extra = options.joinOptions?.(nodeids, slot.nodeid, slot.disk) ?? {};
    const membership = await joinOverSpans(router, dlm, LS, { lvblen: LVBLEN, ...extra });
    slot.dlm = { mc, endpoint, dlm, membership };
    router.members$(`dlm:${LS}`).subscribe(() => {
      if (started) memberChanges++;
    });
    let ls = membership.lockspace;
    if (options.sabotage === 'private-lockspace' && slot.index === RELAYS) ls = await new Dlm({ nodeid: slot.nodeid, clock: nclock }).join(LS, { lvblen: LVBLEN });
    const crand = lcg(seed * 1_000_003 + slot.index * 101 + slot.incarnation);
    slot.client = new LockClient({ node: slot.nodeid, incarnation: slot.incarnation, ls, resources, rand: crand, now: () => clock.now(), sink, lvblen: LVBLEN });
    // The views driver's outputs (once it lands): committed views and granting leases, as history events.
    (membership as unknown as { views$?: { subscribe(o: (v: unknown) => void): unknown } }).views$?.subscribe((v) => {
      const o = v as { type: string; view: number; members?: number[]; until?: number; reason?: string };
      const base = { t: clock.now(), node: slot.nodeid };
      if (o.type === 'committed') sink({ type: 'view', ...base, view: o.view, members: [...(o.members ?? [])] });
      else if (o.type === 'granting') {
        sink({ type: 'granting', ...base, view: o.view, until: o.until ?? 0 });
        granting.add(slot.nodeid);
      }
      else if (o.type === 'stopped') sink({ type: 'stopped', ...base, view: o.view, reason: o.reason ?? '' });
    });
  };
  const killNode = (slot: Slot): void => {
    history.push({ type: 'kill', t: clock.now(), node: slot.nodeid });
    faultEvents++;
    slot.client?.kill();
    slot.clock?.kill();
    const router = slot.router;
    slot.router = null;
    applyNet(); // cuts its links: peers see the links drop, as after a crash
    void router?.close().catch(() => {});
    slot.dlm = null;
    slot.client = null;
    slot.clock = null;
  };

  /** Nodes that announced a granting lease (with voters the workload waits for all: the cluster has formed). */
  const granting = new Set<number>();
  const everyoneSees = (): boolean =>
    slots.every((s) => !s.dlm || s.dlm.membership.lockspace.raw.members.length === slots.filter((x) => x.dlm).length);

  try {
    applyNet();
    for (const s of slots) await startNode(s);
    // Formed: every node has all members (and, with voters, has been granted a lease under the first view).
    const formed = (): boolean => everyoneSees() && (options.joinOptions === undefined || granting.size === NODES);
    for (let i = 0; i < 400 && !formed(); i++) await tick(10);
    if (!formed()) throw new Error(`seed ${seed}: the lockspace never formed (${NODES} members on every node${options.joinOptions ? ', a granting lease on every node' : ''})`);
    started = true;

    const flapped = new Map<Link, number>();
    let partitionUntil = -1;
    let partitioned = false;
    const dead = new Map<Slot, number>();
    for (let step = 0; step < steps; step++) {
      // Restore what is due.
      for (const [l, at] of flapped) {
        if (step < at) continue;
        flapped.delete(l);
        if (!partitioned) allowed.add(l);
        net(`restore ${l.a}-${l.b}`);
      }
      if (partitioned && step >= partitionUntil) {
        partitioned = false;
        for (const l of links) if (!flapped.has(l)) allowed.add(l);
        net('heal');
      }
      for (const [s, at] of dead) {
        if (step < at) continue;
        dead.delete(s);
        history.push({ type: 'restart', t: clock.now(), node: s.nodeid });
        faultEvents++;
        await startNode(s);
      }
      applyNet();
      // Maybe one new fault.
      if (rand() < faultRate) {
        const kind = kinds[Math.floor(rand() * kinds.length)]!;
        if (kind === 'flap' && !partitioned) {
          const candidates = links.filter((l) => allowed.has(l) && !flapped.has(l));
          const l = candidates[Math.floor(rand() * candidates.length)];
          if (l) {
            allowed.delete(l);
            // Keep the mesh connected: undo the cut if a live node lost both relays, or the relays lost each other with a node on one side only.
            if (connected(allowed, links, slots)) {
              flapped.set(l, step + 1 + Math.floor(rand() * 6));
              net(`cut ${l.a}-${l.b}`);
            } else allowed.add(l);
          }
        } else if (kind === 'kill' && dead.size === 0) {
          const live = slots.filter((s) => s.dlm);
          const victim = live[Math.floor(rand() * live.length)]!;
          killNode(victim);
          dead.set(victim, step + 2 + Math.floor(rand() * 10));
        } else if (kind === 'partition' && !partitioned && flapped.size === 0) {
          partitioned = true;
          partitionUntil = step + 3 + Math.floor(rand() * 10);
          const order = slots.map((s) => s.index).sort(() => rand() - 0.5);
          const noMajority = rand() < 0.5;
          const side = new Map<number, number>(); // router index -> side
          side.set(0, 0);
          side.set(1, 1);
          order.forEach((idx, k) => side.set(idx, noMajority ? (k < 2 ? 0 : k < 4 ? 1 : 2) : k < 2 ? 0 : 1));
          for (const l of links) if (side.get(l.a) !== side.get(l.b)) allowed.delete(l);
          net(`partition ${noMajority ? '2|2|1' : '2|3'} ${order.map((i) => `${i}:${side.get(i)}`).join(',')}`);
        }
        applyNet();
      }
      for (const s of slots) s.client?.step();
      await tick();
    }

    // ---- final phase: heal, restart the dead, settle ----
    for (const l of links) allowed.add(l);
    net('heal');
    for (const s of dead.keys()) {
      history.push({ type: 'restart', t: clock.now(), node: s.nodeid });
      faultEvents++;
      await startNode(s);
    }
    applyNet();
    for (let i = 0; i < 40; i++) await tick();
    history.push({ type: 'healed', t: clock.now(), node: 0 });
    for (const s of slots) s.client?.snapshot();
    // Probes: every held lock, from another node, NOQUEUE in a mode it excludes: must not be granted.
    const probers = slots.filter((s) => s.client);
    for (const s of probers) {
      for (const h of s.client!.heldLocks()) {
        const other = probers[(probers.indexOf(s) + 1) % probers.length]!;
        const mode = PROBE[h.mode];
        if (mode) other.client!.request(h.res, mode, ['NOQUEUE']);
      }
    }
    await tick();
    for (let i = 0; i < 200; i++) {
      for (const s of slots) s.client?.releaseAll();
      await tick();
      if (slots.every((s) => !s.client || s.client.pending === 0) && i > 2) break;
    }
    const pendingAtEnd = slots.reduce((a, s) => a + (s.client?.pending ?? 0), 0);
    history.push({ type: 'end', t: clock.now(), node: 0 });
    return { seed, history, faultEvents, steps, pendingAtEnd, memberChanges };
  } finally {
    for (const s of slots) {
      s.clock?.kill();
      s.client?.kill();
      try {
        if (s.dlm) closeStack(s.dlm);
      } catch {
        // closing a node that misbehaved: nothing to keep
      }
    }
    for (const l of links) disconnect(l);
    await Promise.all([...relays, ...slots.map((s) => s.router)].map((r) => r?.close().catch(() => {})));
  }
}

/** Every live node reaches every other over the allowed links (relays in between). */
function connected(allowed: ReadonlySet<Link>, links: readonly Link[], slots: readonly Slot[]): boolean {
  const live = slots.filter((s) => s.router).map((s) => s.index);
  if (live.length === 0) return true;
  const adj = new Map<number, number[]>();
  for (const l of links) {
    if (!allowed.has(l)) continue;
    (adj.get(l.a) ?? adj.set(l.a, []).get(l.a)!).push(l.b);
    (adj.get(l.b) ?? adj.set(l.b, []).get(l.b)!).push(l.a);
  }
  const seen = new Set<number>([live[0]!]);
  const queue = [live[0]!];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of adj.get(v) ?? []) if (!seen.has(w)) (seen.add(w), queue.push(w));
  }
  return live.every((i) => seen.has(i));
}

/**
 * Discovery: what the span table looks like from outside. One SpanInfo per
 * advertised instance (its best path), the spans$ feed of up/down/changed
 * events as best paths change, spans(service) and waitForSpan().
 *
 * A remote span whose last path was lost is held for `downGraceMs` before
 * `down` (down-grace.ts): while held, spans(), members() and open() leave it
 * out (it has no usable path), spans$ and members$ report nothing; a path
 * that comes back in time is reported as one `changed` (and members$ stays
 * quiet unless the node's incarnation changed: then leave and join); when
 * the grace ends without a path, `down` (and `leave`). A withdrawal, our own
 * instance, or a router left without any live link report `down` at once.
 */
import { Observable, Subject } from 'rxjs';
import type { RouterCore } from './router-core.ts';
import { SpanError } from './errors.ts';
import { DownGrace } from './down-grace.ts';
import { Membership, memberKey } from './membership.ts';
import { bestLive, isLiveConn, type Member, type MemberEvent, type SpanEvent, type SpanInfo } from './router-types.ts';
import type { NodeKey, SpanLink, SpanNode } from './span-table.ts';

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Nearest first: a local instance, then by dist, then by instance name and
 * instance id (deterministic: the same on every run and every router).
 */
export function compareByDistance(a: SpanInfo, b: SpanInfo): number {
  const al = a.via === null ? 0 : 1;
  const bl = b.via === null ? 0 : 1;
  return al - bl || a.dist - b.dist || cmpStr(a.instance, b.instance) || cmpStr(a.instanceId, b.instanceId);
}

/** Options of waitForSpan(). */
export interface WaitOptions {
  /** Stop waiting when this signal aborts (the promise rejects). @default none */
  signal?: AbortSignal;
  /** Give up after this many ms of the router's clock. @default none */
  timeoutMs?: number;
}

export class Discovery {
  readonly spans$: Observable<SpanEvent>;
  readonly #core: RouterCore;
  readonly #spans = new Subject<SpanEvent>();
  /** Last SpanInfo published per node, to tell up/down/changed apart. */
  readonly #published = new Map<NodeKey, SpanInfo>();
  readonly #membership = new Membership();
  /** Epoch of the link each published span was last seen by (to tell a withdrawal from a loss). */
  readonly #epochs = new Map<NodeKey, number>();
  /** Spans whose last path was lost, held before `down` (down-grace.ts). */
  readonly #grace: DownGrace<NodeKey, SpanInfo>;

  constructor(core: RouterCore) {
    this.#core = core;
    this.spans$ = this.#spans.asObservable();
    this.#grace = new DownGrace<NodeKey, SpanInfo>({
      clock: core.clock,
      graceMs: core.table.options.downGraceMs,
      onExpire: (key, last) => {
        const node = core.table.node(key);
        if (node && this.infoOf(node) !== null) this.publish(key); // cannot happen: a returning path ends the grace
        else this.#down(key, last);
      },
    });
  }

  /** Spans held before `down` now; graces that ended in `down`; graces ended by a returning path. */
  get graceStats(): { held: number; expired: number; returned: number } {
    return { held: this.#grace.size, expired: this.#grace.expired, returned: this.#grace.returned };
  }

  /**
   * The spans this router sees now (best path per instance). Of one
   * service: nearest first (compareByDistance). All: by service, then
   * instance (table order).
   */
  spans(service?: string): SpanInfo[] {
    const table = this.#core.table;
    const out: SpanInfo[] = [];
    for (const n of service === undefined ? table.nodes() : table.findService(service)) {
      const info = this.infoOf(n);
      if (info !== null) out.push(info);
    }
    return service === undefined ? out : out.sort(compareByDistance);
  }

  /**
   * The instances `open()` may go to, nearest first: a SpanInfo (that one),
   * or a service name narrowed by `route` (or written 'service/instance'
   * when no service has that whole name). `what` names them for errors.
   */
  candidates(span: SpanInfo | string, route: { instance?: string | undefined; node?: string | undefined }): { candidates: SpanInfo[]; what: string } {
    const table = this.#core.table;
    if (typeof span !== 'string') {
      const n = table.node(span.key as NodeKey);
      const info = n ? this.infoOf(n) : null;
      return { candidates: info ? [info] : [], what: `${span.service}/${span.instance}` };
    }
    let service = span;
    let inst = route.instance;
    const node = route.node;
    if (inst === undefined && table.findService(span).length === 0) {
      const slash = span.indexOf('/');
      if (slash > 0) {
        service = span.slice(0, slash);
        inst = span.slice(slash + 1);
      }
    }
    const what = `${service}${inst !== undefined ? `/${inst}` : ''}${node !== undefined ? ` on ${node}` : ''}`;
    const candidates = this.spans(service).filter((s) => (inst === undefined || s.instance === inst) && (node === undefined || s.node === node || s.nodeName === node));
    return { candidates, what };
  }

  /** Join/leave events of the routers offering services (all services, or one). */
  members$(service?: string): Observable<MemberEvent> {
    const all = this.#membership.events$;
    if (service === undefined) return all;
    return new Observable<MemberEvent>((sub) => all.subscribe({ next: (e) => { if (e.service === service) sub.next(e); }, complete: () => sub.complete() }));
  }

  /**
   * The routers offering `service` now. Only what live links show: an
   * instance whose links all died is left out at once, though members$
   * reports its leave only when its spans leave the table (in batches) and
   * a lost span's down grace has ended (down-grace.ts).
   */
  members(service: string): Member[] {
    const live = new Map<string, Set<string>>();
    for (const n of this.#core.table.findService(service)) {
      const info = this.infoOf(n);
      if (info === null) continue;
      const mk = memberKey(info);
      let names = live.get(mk);
      if (!names) live.set(mk, (names = new Set()));
      names.add(info.instance);
    }
    const out: Member[] = [];
    for (const m of this.#membership.members(service)) {
      const names = live.get(`${m.node}|${m.incarnation ?? ''}`); // memberKey of its spans
      if (!names) continue;
      const instances = m.instances.filter((i) => names.has(i));
      if (instances.length === m.instances.length) out.push(m);
      else if (instances.length > 0) out.push(Object.freeze({ ...m, instances: Object.freeze(instances) }));
    }
    return out;
  }

  /**
   * Resolves with the nearest remote span of `service` (at once if known);
   * rejects with SpanError NO_SPAN when `signal` aborts or `timeoutMs` (on
   * the router's clock) passes first.
   */
  waitForSpan(service: string, opts: AbortSignal | WaitOptions = {}): Promise<SpanInfo> {
    const { signal, timeoutMs } = opts instanceof AbortSignal ? { signal: opts, timeoutMs: undefined } : opts;
    const now = this.spans(service).filter((s) => s.via !== null);
    if (now.length > 0) return Promise.resolve(now[0]!);
    if (signal?.aborted) return Promise.reject(new SpanError('NO_SPAN', `waiting for ${service} was aborted`, { cause: signal.reason }));
    const clock = this.#core.clock;
    return new Promise((resolve, reject) => {
      let timer: unknown;
      const done = (): void => {
        sub.unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clock.clearTimeout(timer);
      };
      const onAbort = (): void => {
        done();
        reject(new SpanError('NO_SPAN', `waiting for ${service} was aborted`, { cause: signal!.reason }));
      };
      const sub = this.#spans.subscribe({
        next: (e) => {
          if (e.type !== 'down' && e.span.service === service && e.span.via !== null) {
            done();
            resolve(e.span);
          }
        },
        complete: () => {
          done();
          reject(new SpanError('CLOSED', `the router closed while waiting for ${service}`));
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = clock.setTimeout(() => {
          timer = undefined;
          done();
          reject(new SpanError('NO_SPAN', `no span of ${service} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /**
   * The node as seen from outside: its best live link. null while every
   * link it has is on a dead conn, waiting to leave the table.
   */
  infoOf(node: SpanNode): SpanInfo | null {
    const link = bestLive(node, this.#core.conns);
    return link ? this.linkInfo(node, link) : null;
  }

  linkInfo(node: SpanNode, link: SpanLink): SpanInfo {
    const core = this.#core;
    const conn = link.connId === null ? undefined : core.conns.get(link.connId);
    return {
      service: node.clusterLabel,
      instance: node.nodeLabel,
      clusterId: node.clusterId,
      instanceId: node.nodeId,
      peerType: node.peerType,
      node: link.connId === null ? core.nodeId : link.path[0] ?? null,
      nodeName: link.connId === null ? core.name : link.fields.origin?.name ?? null,
      incarnation: link.connId === null ? core.incarnation : link.fields.origin?.incarnation ?? null,
      dist: link.fields.dist,
      via: link.connId,
      viaName: conn?.peerName ?? null,
      path: link.path,
      key: node.key,
    };
  }

  /**
   * Publish the node's state if it changed (up, changed, down). A remote
   * span that lost its last path is held first (see the file comment).
   */
  publish(key: NodeKey): void {
    const core = this.#core;
    const node = core.table.node(key);
    const before = this.#published.get(key);
    const link = node ? bestLive(node, core.conns) : undefined;
    const now = node && link ? this.linkInfo(node, link) : null;
    if (now === null) {
      if (!before) {
        this.#membership.update(key, null);
        return;
      }
      if (this.#grace.isHeld(key)) {
        if (this.#sureDown(key, before)) this.#down(key, before);
        return;
      }
      if (this.#grace.enabled && !this.#sureDown(key, before)) {
        core.log(`span lost ${before.service}/${before.instance}: down unless a path returns within ${core.table.options.downGraceMs} ms`);
        this.#grace.hold(key, before);
        return;
      }
      this.#down(key, before);
      return;
    }
    this.#epochs.set(key, link!.fields.epoch ?? 0);
    this.#membership.update(key, now);
    if (this.#grace.returnedPath(key)) {
      // Held since its last path was lost: one `changed` instead of down and up.
      this.#published.set(key, now);
      core.log(`span changed ${now.service}/${now.instance} dist=${now.dist} via=${now.via} (a path returned)`);
      this.#spans.next({ type: 'changed', span: now });
    } else if (!before) {
      this.#published.set(key, now);
      if (now.via !== null) core.log(`span up ${now.service}/${now.instance} dist=${now.dist} via=${now.via}`);
      this.#spans.next({ type: 'up', span: now });
    } else if (before.dist !== now.dist || before.via !== now.via) {
      this.#published.set(key, now);
      core.log(`span changed ${now.service}/${now.instance} dist=${now.dist} via=${now.via}`);
      this.#spans.next({ type: 'changed', span: now });
    }
  }

  /**
   * Is the loss of `key`'s last path sure to be final? Our own instance, a
   * withdrawn advertisement, or a router without any live link (no
   * neighbour is left to bring a path back).
   */
  #sureDown(key: NodeKey, last: SpanInfo): boolean {
    const core = this.#core;
    if (last.via === null || core.closed) return true;
    if (core.lost.isWithdrawn(key, this.#epochs.get(key) ?? 0)) return true;
    for (const conn of core.conns.values()) if (isLiveConn(conn)) return false;
    return true;
  }

  #down(key: NodeKey, last: SpanInfo): void {
    this.#grace.drop(key);
    this.#published.delete(key);
    this.#epochs.delete(key);
    this.#membership.update(key, null);
    this.#core.log(`span down ${last.service}/${last.instance}`);
    this.#spans.next({ type: 'down', span: last });
  }

  complete(): void {
    this.#grace.clearAll();
    this.#spans.complete();
    this.#membership.complete();
  }
}

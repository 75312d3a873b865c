/**
 * Discovery: what the span table looks like from outside. One SpanInfo per
 * advertised instance (its best path), the spans$ feed of up/down/changed
 * events as best paths change, spans(service) and waitForSpan().
 */
import { Observable, Subject } from 'rxjs';
import type { RouterCore } from './router-core.ts';
import { SpanError } from './errors.ts';
import { Membership } from './membership.ts';
import type { Member, MemberEvent, SpanEvent, SpanInfo } from './router-types.ts';
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

  constructor(core: RouterCore) {
    this.#core = core;
    this.spans$ = this.#spans.asObservable();
  }

  /**
   * The spans this router sees now (best path per instance). Of one
   * service: nearest first (compareByDistance). All: by service, then
   * instance (table order).
   */
  spans(service?: string): SpanInfo[] {
    const table = this.#core.table;
    if (service === undefined) return table.nodes().map((n) => this.infoOf(n));
    return table.findService(service).map((n) => this.infoOf(n)).sort(compareByDistance);
  }

  /** Join/leave events of the routers offering services (all services, or one). */
  members$(service?: string): Observable<MemberEvent> {
    const all = this.#membership.events$;
    if (service === undefined) return all;
    return new Observable<MemberEvent>((sub) => all.subscribe({ next: (e) => { if (e.service === service) sub.next(e); }, complete: () => sub.complete() }));
  }

  /** The routers offering `service` now. */
  members(service: string): Member[] {
    return this.#membership.members(service);
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

  infoOf(node: SpanNode): SpanInfo {
    return this.linkInfo(node, node.links[0]!);
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

  /** Publish the node's state if it changed (up, changed, down). */
  publish(key: NodeKey): void {
    const core = this.#core;
    const node = core.table.node(key);
    const before = this.#published.get(key);
    if (!node) {
      this.#membership.update(key, null);
      if (before) {
        this.#published.delete(key);
        core.log(`span down ${before.service}/${before.instance}`);
        this.#spans.next({ type: 'down', span: before });
      }
      return;
    }
    const now = this.infoOf(node);
    this.#membership.update(key, now);
    if (!before) {
      this.#published.set(key, now);
      if (now.via !== null) core.log(`span up ${now.service}/${now.instance} dist=${now.dist} via=${now.via}`);
      this.#spans.next({ type: 'up', span: now });
    } else if (before.dist !== now.dist || before.via !== now.via) {
      this.#published.set(key, now);
      core.log(`span changed ${now.service}/${now.instance} dist=${now.dist} via=${now.via}`);
      this.#spans.next({ type: 'changed', span: now });
    }
  }

  complete(): void {
    this.#spans.complete();
    this.#membership.complete();
  }
}

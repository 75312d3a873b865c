/** In-process meshes of Routers over in-memory links. */
import { firstValueFrom, filter, type Observable } from 'rxjs';
import { Router, type RouterOptions, type SpanInfo } from '../../src/span/router.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import type { Iocom } from '../../src/iocom/iocom.ts';

export interface MeshLink {
  a: number;
  b: number;
  iocoms: [Iocom, Iocom];
  cut(): void;
}

export interface Mesh {
  routers: Router[];
  links: MeshLink[];
  connect(a: number, b: number): MeshLink;
  close(): Promise<void>;
}

/** Deterministic node ids: node i gets 00000000-0000-4000-8000-<i as 12 hex digits>. */
export function nodeIdOf(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

export function createMesh(n: number, edges: Array<[number, number]>, options: RouterOptions = {}): Mesh {
  const routers = Array.from({ length: n }, (_, i) => new Router({ name: `n${i}`, nodeId: nodeIdOf(i), localRnss: 1, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 }, ...options }));
  const links: MeshLink[] = [];
  const connect = (a: number, b: number): MeshLink => {
    const [sa, sb] = memoryPair();
    const la = routers[a]!.attach(sa);
    const lb = routers[b]!.attach(sb);
    const link: MeshLink = { a, b, iocoms: [la.iocom, lb.iocom], cut: () => { la.iocom.destroy(); lb.iocom.destroy(); } };
    links.push(link);
    return link;
  };
  for (const [a, b] of edges) connect(a, b);
  return {
    routers,
    links,
    connect,
    async close() {
      for (const l of links) l.cut();
      await Promise.all(routers.map((r) => r.close()));
    },
  };
}

/**
 * Wait until `check()` holds. Re-checks after every span event of any router
 * and after each macrotask turn (bounded), never on a timer.
 */
export async function until(check: () => boolean, what: string, maxTurns = 20000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (check()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`condition not reached after ${maxTurns} event-loop turns: ${what}`);
}

export function spanOf(r: Router, service: string): SpanInfo | undefined {
  return r.spans(service).find((s) => s.via !== null || s.dist === -1);
}

export function firstEvent<T>(o: Observable<T>, pred: (v: T) => boolean): Promise<T> {
  return firstValueFrom(o.pipe(filter(pred)));
}

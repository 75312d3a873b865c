/** Scenario generators and runners shared by the sim-mesh property tests. */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { SimMesh, topologies } from './sim-mesh.ts';

export type Kind = 'line' | 'ring' | 'star' | 'full' | 'random';

export interface Scenario {
  readonly kind: Kind;
  readonly n: number;
  readonly extra: number;
  readonly services: readonly (readonly number[])[]; // routers advertising each service (one per instance)
  readonly events: readonly { readonly edge: number; readonly settle: number }[];
  readonly seed: number;
  readonly maxRelayedPaths: 1 | 2;
  readonly consistencyCheck?: boolean;
  readonly preferCurrent?: boolean;
}

export const observed = { maxPerEvent: 0, maxRatio: 0, worst: '', maxPerSlot: 0, worstSlot: '', events: 0, totalMessages: 0 };

export function scenario(kind: Kind, maxN: number, maxEvents: number, minN = kind === 'ring' ? 3 : 2): fc.Arbitrary<Scenario> {
  return fc.integer({ min: minN, max: maxN }).chain((n) =>
    fc.record({
      kind: fc.constant(kind),
      n: fc.constant(n),
      extra: fc.integer({ min: 0, max: kind === 'random' ? Math.ceil(n * 1.2) : 0 }),
      services: fc.array(fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: 2 }), { minLength: 1, maxLength: 3 }),
      events: fc.array(fc.record({ edge: fc.nat(), settle: fc.integer({ min: -1, max: 40 }) }), { minLength: 1, maxLength: maxEvents }),
      seed: fc.integer(),
      maxRelayedPaths: fc.constantFrom(1 as const, 2 as const),
    }),
  );
}

export function edgesOf(s: Scenario): [number, number][] {
  return s.kind === 'random' ? topologies.random(s.n, s.extra, s.seed) : topologies[s.kind](s.n);
}

export function build(s: Scenario): SimMesh {
  const mesh = new SimMesh({ nodes: s.n, edges: edgesOf(s), seed: s.seed, options: { maxRelayedPaths: s.maxRelayedPaths }, consistencyCheck: s.consistencyCheck ?? true, preferCurrent: s.preferCurrent ?? true });
  s.services.forEach((routers, svc) => routers.forEach((r, inst) => mesh.advertise(r, `svc-${svc}`, svc, inst)));
  return mesh;
}

export function expectClean(mesh: SimMesh, when: string): void {
  expect(mesh.violations, `${when}: per-message invariant`).toEqual([]);
  expect(mesh.refusals, `${when}: refused spans`).toEqual([]);
  expect(mesh.checkConverged(), `${when}: converged state`).toEqual([]);
}

/** Each event is run to quiescence; the per-event message count is bounded. */
export function quiescentRun(s: Scenario): void {
  const mesh = build(s);
  mesh.runToQuiescence();
  expectClean(mesh, 'initial');
  const N = s.n;
  const K = mesh.advertised.length;
  const D = 2 * mesh.edges.length;
  const bound = 2 * s.maxRelayedPaths * K * D * N;
  for (const [i, ev] of s.events.entries()) {
    const e = ev.edge % mesh.edges.length;
    const before = mesh.messages;
    if (mesh.edges[e]!.up) mesh.cut(e);
    else mesh.restore(e);
    mesh.runToQuiescence();
    const count = mesh.messages - before;
    observed.events++;
    observed.totalMessages += count;
    if (count > observed.maxPerEvent) observed.maxPerEvent = count;
    const ratio = count / (K * D * N);
    if (ratio > observed.maxRatio) {
      observed.maxRatio = ratio;
      observed.worst = `${s.kind} N=${N} E=${mesh.edges.length} K=${K} paths=${s.maxRelayedPaths}: ${count} messages`;
    }
    if (count / (K * D) > observed.maxPerSlot) {
      observed.maxPerSlot = count / (K * D);
      observed.worstSlot = `${s.kind} N=${N} E=${mesh.edges.length} K=${K} paths=${s.maxRelayedPaths}: ${count} messages`;
    }
    expect(count, `event ${i}: ${count} messages > bound ${bound}`).toBeLessThanOrEqual(bound);
    expectClean(mesh, `after event ${i}`);
  }
}

/** Events land while earlier ones are still spreading; only the end state is checked (plus every message). */
export function interleavedRun(s: Scenario): void {
  const mesh = build(s);
  for (const ev of s.events) {
    const e = ev.edge % mesh.edges.length;
    if (mesh.edges[e]!.up) mesh.cut(e);
    else mesh.restore(e);
    if (ev.settle < 0) mesh.runToQuiescence();
    else mesh.deliver(ev.settle);
    expect(mesh.violations).toEqual([]);
  }
  mesh.runToQuiescence();
  expectClean(mesh, 'end');
}

export function check(name: string, arb: fc.Arbitrary<Scenario>, run: (s: Scenario) => void, numRuns: number, seed: number): void {
  it(name, () => {
    const result = fc.check(fc.property(arb, run), { seed, numRuns });
    if (result.failed) {
      throw new Error(`property failed; reproduce with seed ${seed}, path ${result.counterexamplePath}\n${fc.defaultReportMessage(result)}`);
    }
  });
}


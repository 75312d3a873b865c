/**
 * The seeded fault plan of the DLM-across-hosts run (pure): which host is
 * SIGKILLed (and whether it is restarted at once or only after the
 * survivors made progress), and which cut sets partition the mesh. The
 * same seed and topology give the same plan.
 */
import { lcg } from '../helpers/mesh.ts';
import { cutSet, hops, type Topology } from './topology.ts';

/** One planned fault. */
export type DlmFault =
  | {
      readonly kind: 'kill';
      readonly host: string;
      /** 'at-once': restarted right after the kill (before the survivors' recovery ends); 'after-progress': once the survivors granted again. */
      readonly restart: 'at-once' | 'after-progress';
    }
  | {
      readonly kind: 'partition';
      /** The smaller side (at most half the hosts); the rest is the other side. */
      readonly side: readonly string[];
      /** Indexes of the links cut (topology.links). */
      readonly cuts: readonly number[];
      /** The hosts of the connected part holding more than half of all hosts, or null when no part does (nobody may grant). */
      readonly majority: readonly string[] | null;
    };

/** The fault kinds a plan draws from. */
export type DlmFaultKind = DlmFault['kind'];

/** The connected part (over links not in `cuts`) holding more than half of the hosts, or null. */
export function majorityPart(topo: Topology, cuts: readonly number[]): string[] | null {
  const all = new Set(topo.hosts);
  const cut = new Set(cuts);
  const seen = new Set<string>();
  for (const h of topo.hosts) {
    if (seen.has(h)) continue;
    const part = [...hops(topo, h, cut, all).keys()];
    for (const x of part) seen.add(x);
    if (part.length * 2 > topo.hosts.length) return part.sort();
  }
  return null;
}

/**
 * `count` faults drawn from `kinds` with a seeded generator. A partition's
 * smaller side is one of the topology's sites (when it has them, a third
 * of the time) or a random set of 1 .. floor(n/2) hosts.
 */
export function planDlmFaults(topo: Topology, seed: number, count: number, kinds: readonly DlmFaultKind[]): DlmFault[] {
  if (kinds.length === 0 || count <= 0) return [];
  const rand = lcg(seed * 7919 + 17);
  rand();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const out: DlmFault[] = [];
  for (let i = 0; i < count; i++) {
    const kind = pick(kinds);
    if (kind === 'kill') {
      out.push({ kind, host: pick(topo.hosts), restart: rand() < 0.5 ? 'at-once' : 'after-progress' });
      continue;
    }
    let side: string[];
    if (topo.sites && topo.sites.length >= 2 && rand() < 1 / 3) {
      side = [...[...topo.sites].sort((a, b) => a.length - b.length)[0]!];
    } else {
      const size = 1 + Math.floor(rand() * Math.floor(topo.hosts.length / 2));
      const pool = [...topo.hosts];
      side = [];
      while (side.length < size) side.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
    }
    side.sort();
    const cuts = cutSet(topo, new Set(side));
    out.push({ kind, side, cuts, majority: majorityPart(topo, cuts) });
  }
  return out;
}

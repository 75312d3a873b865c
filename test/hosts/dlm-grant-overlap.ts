/**
 * A plain check of the DLM-across-hosts records (pure): on the machine's one
 * clock (every namespace reads the same CLOCK_REALTIME, so records of
 * different hosts compare), no two locks in incompatible modes were held on
 * one resource at the same time. A lock is held from its `grant` record to
 * its `unlock` record (written before unlock() is called), or to the death
 * of its process (the harness's kill time), or to the end of the run.
 *
 * This is only sound while nothing can make a holder's view wrong: it is
 * the check of the fault-free run. Under partitions a cut-off holder still
 * believes it holds its lock; that is the history checker's job (faults,
 * test/helpers/dlm-history-checker.ts: views, fencing tokens).
 */
import { MODE_NAMES, type Mode, type ModeName } from '../../src/services/dlm/constants.ts';
import { compatible } from '../../src/services/dlm/modes.ts';

/** A workload record as collected: host, the process run it came from, and the record. */
export interface CollectedRecord {
  readonly host: string;
  /** Index of the host's process run (a restart is a new run). */
  readonly run: number;
  readonly t: number;
  readonly ev: string;
  readonly w?: number;
  readonly op?: number;
  readonly res?: string;
  readonly mode?: ModeName;
  readonly code?: string | null;
  readonly fence?: number | null;
}

/** One lock held from `from` to `to` (ms, Infinity when never ended). */
export interface Holding {
  readonly who: string;
  readonly res: string;
  readonly mode: ModeName;
  readonly from: number;
  readonly to: number;
}

/** Per host: what its workload did. */
export interface HostCounts {
  requests: number;
  grants: number;
  fails: Record<string, number>;
  unlocks: number;
}

export interface OverlapVerdict {
  readonly holdings: number;
  /** Pairs of incompatible holdings that overlap, described. */
  readonly violations: readonly string[];
  readonly perHost: ReadonlyMap<string, HostCounts>;
}

const modeOf = (m: ModeName): Mode => MODE_NAMES.indexOf(m) as Mode;

/** The holdings in `records`; `deaths` gives each (host, run)'s kill time (`host#run` -> ms). */
export function holdings(records: readonly CollectedRecord[], deaths: ReadonlyMap<string, number> = new Map()): Holding[] {
  const open = new Map<string, Omit<Holding, 'to'>>();
  const out: Holding[] = [];
  for (const r of [...records].sort((a, b) => a.t - b.t)) {
    const key = `${r.host}#${r.run}/${r.w}/${r.op}`;
    if (r.ev === 'grant' && r.res !== undefined && r.mode !== undefined) open.set(key, { who: key, res: r.res, mode: r.mode, from: r.t });
    else if (r.ev === 'unlock') {
      const h = open.get(key);
      if (h) { out.push({ ...h, to: r.t }); open.delete(key); }
    }
  }
  for (const [key, h] of open) out.push({ ...h, to: deaths.get(key.slice(0, key.indexOf('/'))) ?? Infinity });
  return out;
}

/** Check that no incompatible holdings of one resource overlap (strictly: one ending at t and one starting at t do not). */
export function checkOverlap(records: readonly CollectedRecord[], deaths: ReadonlyMap<string, number> = new Map()): OverlapVerdict {
  const hs = holdings(records, deaths);
  const byRes = new Map<string, Holding[]>();
  for (const h of hs) byRes.set(h.res, [...(byRes.get(h.res) ?? []), h]);
  const violations: string[] = [];
  for (const [res, list] of byRes) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length && list[j]!.from < list[i]!.to; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (b.from < a.to && a.from < b.to && !compatible(modeOf(a.mode), modeOf(b.mode))) {
          violations.push(`${res}: ${a.who} ${a.mode} [${a.from}, ${a.to}) and ${b.who} ${b.mode} [${b.from}, ${b.to})`);
        }
      }
    }
  }
  const perHost = new Map<string, HostCounts>();
  for (const r of records) {
    const c = perHost.get(r.host) ?? { requests: 0, grants: 0, fails: {}, unlocks: 0 };
    perHost.set(r.host, c);
    if (r.ev === 'request') c.requests++;
    else if (r.ev === 'grant') c.grants++;
    else if (r.ev === 'unlock') c.unlocks++;
    else if (r.ev === 'fail') c.fails[String(r.code)] = (c.fails[String(r.code)] ?? 0) + 1;
  }
  return { holdings: hs.length, violations, perHost };
}

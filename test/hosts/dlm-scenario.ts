/**
 * The DLM across hosts (issue 12): every host of a topology runs
 * test/hosts/dlm-host.ts — the relay with `--lockspace hosts` plus random
 * lock traffic on that lockspace — and the harness collects every host's
 * workload records (JSON lines) into one history, writes it out (one
 * `dlm-HOST.jsonl` per host in the report directory) and checks it.
 *
 * `faults: 'none'` (runs today): all hosts up, traffic until every host has
 * `grantsPerPhase` grants; checked with the plain overlap check
 * (dlm-grant-overlap.ts), sound without faults.
 *
 * `faults: 'partition-no-recovery'` (runs today, while the DLM has no
 * recovery): the mesh partitioned along the sites and healed; nobody's
 * member list changes (the change is refused while resources are in use),
 * so no lock is taken from a cut-off holder and the overlap check stays
 * sound: locks mastered across the cut wait, and everything flows again
 * after the heal.
 *
 * `faults: 'kill-restart'` (prepared; needs DLM recovery): a host
 * SIGKILLed (its locks end at the kill time) and restarted, traffic on the
 * others after the kill and on all after the restart. Without a partition
 * no live holder is cut off, so the overlap check stays sound.
 *
 * `faults: 'kills-and-partition'` (prepared; needs DLM recovery, the views
 * driver's `--voters` and the faults engineer's history checker, see
 * dlm.test.ts): a host killed and restarted, the mesh partitioned along
 * the sites and healed, traffic on the live side(s) after each event.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostMesh, type EventKind } from './host-mesh.ts';
import { checkFenceOrder, type FenceVerdict } from './dlm-fence-order.ts';
import { checkOverlap, type CollectedRecord, type OverlapVerdict } from './dlm-grant-overlap.ts';
import type { DlmHostConfig } from './dlm-host.ts';
import { formatReport, type ReportRow } from './report.ts';
import { cutSet, type Topology } from './topology.ts';

export const DLM_LOCKSPACE = 'hosts';
const SCRIPT = fileURLToPath(new URL('./dlm-host.ts', import.meta.url));

export interface DlmScenarioOptions {
  readonly faults: 'none' | 'partition-no-recovery' | 'kill-restart' | 'kills-and-partition';
  /** Workload seed (each host adds its index). @default 1 */
  readonly seed?: number;
  /** Grants every live host must reach after each phase. @default 40 */
  readonly grantsPerPhase?: number;
  /** Flags added to every host (e.g. `--voters ...` once it exists). @default none */
  readonly extraArgs?: readonly string[];
  readonly log: (l: string) => void;
}

export interface DlmRun {
  readonly records: readonly CollectedRecord[];
  /** `host#run` -> kill time. */
  readonly deaths: ReadonlyMap<string, number>;
  readonly verdict: OverlapVerdict;
  /** Fencing tokens of PW/EX grants rise with grant time per resource. */
  readonly fence: FenceVerdict;
  readonly markdown: string;
  /** Request-to-grant latency over all grants, ms. */
  readonly grantMs: { p50: number; p99: number; max: number };
  readonly reportDir: string;
  /** Member-list changes recorded after the workload began, all hosts. */
  readonly memberChanges: number;
  /** Grants recorded between the partition and the heal (null without a partition). */
  readonly grantsWhilePartitioned: number | null;
}

/** Run the scenario on `topology` (which must have `sites` when faults are on). */
export async function runDlmAcrossHosts(topology: Topology, o: DlmScenarioOptions): Promise<DlmRun> {
  const safetyMs = 60_000;
  const perPhase = o.grantsPerPhase ?? 40;
  const goDir = mkdtempSync(join(tmpdir(), 'dmsg-hosts-dlm-'));
  const go = join(goDir, 'go');
  const env = (seed: number): Record<string, string> => ({ DMSG_HOSTS_DLM: JSON.stringify({ lockspace: DLM_LOCKSPACE, go, members: topology.hosts.length, seed, workers: 2, resources: 6 } satisfies DlmHostConfig) });
  const mesh = await HostMesh.start({
    topology, tag: 'dl', progress: o.log, safetyMs,
    program: { script: SCRIPT, env: env(o.seed ?? 1) },
    extraArgs: () => ['--lockspace', DLM_LOCKSPACE, ...(o.extraArgs ?? [])],
  });
  const deaths = new Map<string, number>();
  try {
    const rows: ReportRow[] = [{ record: mesh.records[0]!, traffic: null }];
    const current = (h: string): readonly Record<string, unknown>[] => mesh.runs(h).at(-1)!.records;
    const grants = (h: string): number => current(h).filter((r) => r['ev'] === 'grant').length;
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      const deadline = Date.now() + safetyMs;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`dlm across hosts: ${what} not within ${safetyMs} ms; grants ${topology.hosts.map((h) => `${h} ${grants(h)}`).join(', ')}; members ${topology.hosts.map((h) => `${h} ${JSON.stringify(current(h).filter((r) => r['ev'] === 'members').at(-1)?.['members'] ?? null)}`).join(', ')}; stderr ${topology.hosts.map((h) => mesh.runs(h).at(-1)!.otherStderr.slice(-3).join(' | ')).join(' || ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const allMembers = (hs: readonly string[], n: number): boolean => hs.every((h) => (current(h).filter((r) => r['ev'] === 'members').at(-1)?.['members'] as unknown[] | undefined)?.length === n);
    const moreGrants = async (what: string, hs: readonly string[]): Promise<void> => {
      const base = new Map(hs.map((h) => [h, grants(h)]));
      await until(`${perPhase} more grants on ${hs.join(' ')} after ${what}`, () => hs.every((h) => grants(h) >= base.get(h)! + perPhase));
    };
    const ev = async (kind: EventKind, label: string, f: () => Promise<void>): Promise<void> => {
      rows.push({ record: await mesh.event(kind, label, f), traffic: null });
    };

    let partitionAt = 0;
    let healAt = 0;
    await until(`every host has ${topology.hosts.length} lockspace members`, () => allMembers(topology.hosts, topology.hosts.length));
    writeFileSync(go, '');
    await moreGrants('start', topology.hosts);

    if (o.faults === 'partition-no-recovery') {
      if (!topology.sites) throw new Error(`${topology.name}: needs "sites" for the partition`);
      const cuts = cutSet(topology, new Set(topology.sites[0]));
      partitionAt = Date.now();
      await ev('partition', `partition ${topology.sites.map((s) => s.join(' ')).join(' / ')}`, () => mesh.cut(cuts));
      healAt = Date.now();
      await ev('heal', 'heal', () => mesh.restore(cuts));
      await until('every host with all members after the heal', () => allMembers(topology.hosts, topology.hosts.length));
      await moreGrants('the heal', topology.hosts);
    }
    if (o.faults === 'kill-restart' || o.faults === 'kills-and-partition') {
      const victim = topology.hosts[1]!;
      const others = topology.hosts.filter((h) => h !== victim);
      await ev('kill', `SIGKILL ${victim}`, async () => {
        deaths.set(`${victim}#${mesh.runs(victim).length - 1}`, Date.now());
        await mesh.kill(victim);
      });
      await moreGrants(`killing ${victim}`, others);
      await ev('restart', `restart ${victim}`, () => mesh.restart(victim));
      await until(`${victim} back in the lockspace`, () => allMembers(topology.hosts, topology.hosts.length));
      await moreGrants(`restarting ${victim}`, topology.hosts);
    }
    if (o.faults === 'kills-and-partition') {
      if (!topology.sites) throw new Error(`${topology.name}: needs "sites" for the partition`);
      const cuts = cutSet(topology, new Set(topology.sites[0]));
      const majority = [...topology.sites].sort((a, b) => b.length - a.length)[0]!;
      partitionAt = Date.now();
      await ev('partition', `partition ${topology.sites.map((s) => s.join(' ')).join(' / ')}`, () => mesh.cut(cuts));
      await moreGrants('the partition (majority side)', majority);
      healAt = Date.now();
      await ev('heal', 'heal', () => mesh.restore(cuts));
      await until('every host back in the lockspace', () => allMembers(topology.hosts, topology.hosts.length));
      await moreGrants('the heal', topology.hosts);
    }

    const records: CollectedRecord[] = [];
    const dir = process.env['DMSG_HOSTS_REPORT_DIR'] ?? join(tmpdir(), 'dmsg-hosts-report');
    mkdirSync(dir, { recursive: true });
    for (const h of topology.hosts) {
      const lines: string[] = [];
      mesh.runs(h).forEach((run, i) => {
        for (const r of run.records) {
          records.push({ ...(r as unknown as CollectedRecord), host: h, run: i });
          lines.push(JSON.stringify({ ...r, run: i }));
        }
      });
      writeFileSync(join(dir, `dlm-${h}.jsonl`), lines.join('\n') + '\n');
    }
    const verdict = checkOverlap(records, deaths);
    // Member lists recorded after the workload began (the start's joins come before it).
    const goAt = Math.min(...records.filter((r) => r.ev === 'go').map((r) => r.t));
    const memberChanges = records.filter((r) => r.ev === 'members' && r.t > goAt).length;
    const partitioned = partitionAt > 0 ? records.filter((r) => r.ev === 'grant' && r.t >= partitionAt && r.t < healAt).length : null;
    const fence = checkFenceOrder(records);
    const latencies: number[] = [];
    const asked = new Map<string, number>();
    for (const r of records) {
      const key = `${r.host}#${r.run}/${r.w}/${r.op}`;
      if (r.ev === 'request') asked.set(key, r.t);
      else if (r.ev === 'grant' && asked.has(key)) latencies.push(r.t - asked.get(key)!);
    }
    latencies.sort((a, b) => a - b);
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
    const grantMs = { p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? 0 };
    const table = [
      '| host | requests | grants | failed (by code) | unlocks |',
      '|---|---:|---:|---|---:|',
      ...[...verdict.perHost].sort(([a], [b]) => a.localeCompare(b)).map(([h, c]) => `| ${h} | ${c.requests} | ${c.grants} | ${Object.entries(c.fails).map(([k, n]) => `${k} ${n}`).join(', ') || '0'} | ${c.unlocks} |`),
    ].join('\n');
    const markdown = [
      formatReport({ scenario: `DLM on ${topology.name}${o.faults === 'none' ? '' : `, ${o.faults}`}`, hosts: topology.hosts.length, links: topology.links.length, rows, total: null }),
      table,
      '',
      `Request to grant: p50 ${grantMs.p50} ms, p99 ${grantMs.p99} ms, max ${grantMs.max} ms over ${latencies.length} grants. Overlap check (${verdict.holdings} holdings): ${verdict.violations.length === 0 ? 'no incompatible locks held at once' : `${verdict.violations.length} violations`}. Fencing tokens: ${fence.withToken} of ${fence.grants} PW/EX grants carry one; ${fence.violations.length === 0 ? 'they rise per resource' : `${fence.violations.length} out of order`}. Member-list changes after the start: ${memberChanges}.${partitioned === null ? '' : ` Grants between the partition and the heal: ${partitioned}.`}`,
      '',
    ].join('\n');
    writeFileSync(join(dir, `dlm-${topology.name}${o.faults === 'none' ? '' : `-${o.faults}`}.md`), markdown);
    o.log(`\n${markdown}(records and report in ${dir})`);
    return { records, deaths, verdict, fence, markdown, grantMs, reportDir: dir, memberChanges, grantsWhilePartitioned: partitioned };
  } finally {
    await mesh.close();
    rmSync(goDir, { recursive: true, force: true });
  }
}

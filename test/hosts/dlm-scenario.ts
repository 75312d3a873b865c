/**
 * The DLM across hosts (issue 12): every host of a topology runs
 * test/hosts/dlm-host.ts — the relay with `--lockspace hosts --voters ...
 * --views-dir ... --node-id ...` plus the shared history recorder's seeded
 * lock workload — while the harness SIGKILLs and restarts hosts and
 * partitions the mesh along cut sets (a seeded plan, dlm-fault-plan.ts).
 * At the end it heals every cut, restarts every dead host, waits until
 * every host is back in the lockspace and the pending operations settle,
 * records the final `held` snapshot, drains (unlocks everything), and runs
 * the independent history checker (test/helpers/dlm-history-checker.ts,
 * the same one the in-process and multi-process fault tests use) over
 * every host's records merged by time: no incompatible grants, fencing
 * tokens rise, every operation completed (with a status it can have) after
 * the heal, no live node's lock lost, LVBs as §1.7/§4.7 say.
 *
 * Every wait has a safety net (it fails saying what it waited for and the
 * seed); HostMesh.close() (in `finally`) kills every process and deletes
 * every namespace of the run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeidOf } from '../../src/services/midcomms/index.ts';
import { checkHistory, describeViolations, type CheckReport } from '../helpers/dlm-history-checker.ts';
import type { HistoryEvent } from '../helpers/dlm-history-types.ts';
import { HostMesh, type EventKind } from './host-mesh.ts';
import { planDlmFaults, type DlmFault, type DlmFaultKind } from './dlm-fault-plan.ts';
import type { DlmHostConfig } from './dlm-host.ts';
import type { RelayProcess } from './relay-host.ts';
import { formatReport, type ReportRow } from './report.ts';
import type { Topology } from './topology.ts';
import { measureWallOffsetMs, sharedClock } from './shared-clock.ts';

export const DLM_LOCKSPACE = 'hosts';
const SCRIPT = fileURLToPath(new URL('./dlm-host.ts', import.meta.url));

export interface DlmScenarioOptions {
  /** Fault kinds the seeded plan draws from; none: a fault-free run. */
  readonly faults: readonly DlmFaultKind[];
  readonly seed: number;
  /** Faults in the plan. @default 3 (0 without kinds) */
  readonly events?: number;
  /** Completed operations every host that should progress must add after each phase. @default 30 */
  readonly progressOps?: number;
  /** Resources the workload uses. @default 4 */
  readonly resources?: number;
  /** Pause between workload steps on each host, ms. @default 8 */
  readonly stepMs?: number;
  /** Safety net of every wait, ms. @default 60000 */
  readonly safetyMs?: number;
  readonly log: (l: string) => void;
}

/** Counts per host (all incarnations). */
export interface HostCounts {
  requests: number;
  grants: number;
  /** Completions that were not OK, by status. */
  fails: Record<string, number>;
  incarnations: number;
}

export interface DlmRun {
  readonly seed: number;
  readonly plan: readonly DlmFault[];
  readonly history: readonly HistoryEvent[];
  readonly report: CheckReport;
  /** The checker's violations as text ('' when none). */
  readonly violationsText: string;
  readonly perHost: ReadonlyMap<string, HostCounts>;
  readonly markdown: string;
  readonly reportDir: string;
  /** The merged, checked history (JSON lines) in reportDir. */
  readonly historyFile: string;
  /** Request-to-grant latency over all granted requests, ms. */
  readonly grantMs: { p50: number; p99: number; max: number };
  /** PW/EX grants carrying a fencing token, of all PW/EX grants. */
  readonly fenced: { withToken: number; grants: number };
  /** Distinct view numbers committed (views driver outputs), ascending. */
  readonly views: readonly number[];
  /** Per partition, each host outside the majority: when its granting stopped and what it granted after. */
  readonly minority: readonly MinorityVerdict[];
  /** The longest of the run's waits (each has the safety net): what it waited for and for how long, ms. */
  readonly longestWait: { readonly what: string; readonly ms: number };
}

/** A host cut off from the majority during one partition. */
export interface MinorityVerdict {
  readonly partition: string;
  readonly host: string;
  readonly cutAt: number;
  readonly healAt: number;
  /** The end of the last granting lease it announced before the heal (0: none). */
  readonly leaseEnd: number;
  /** Requests granted to it after that end (and after the cut), before the heal: ms after the lease end, each. */
  readonly grantsAfterLease: readonly number[];
}

/** A fixed router node id per host index, so `--voters` can be written in advance (docs/views.md). */
export function hostNodeId(i: number): string {
  return `00000000-0000-4000-8000-${(0xd1000 + i).toString(16).padStart(12, '0')}`;
}

const isEv = (r: Record<string, unknown>, ev: string): boolean => r['ev'] === ev;
/** History events that change or report a lock's state. */
const LOCK_EVENTS = new Set(['request', 'convert', 'unlock', 'cancel', 'done', 'ended']);

/** Run the scenario on `topology`. */
export async function runDlmAcrossHosts(topology: Topology, o: DlmScenarioOptions): Promise<DlmRun> {
  const safetyMs = o.safetyMs ?? 60_000;
  const progressOps = o.progressOps ?? 30;
  const resources = Array.from({ length: o.resources ?? 4 }, (_, i) => `r${i}`);
  const plan = planDlmFaults(topology, o.seed, o.faults.length === 0 ? 0 : o.events ?? 3, o.faults);
  const idx = new Map(topology.hosts.map((h, i) => [h, i]));
  const nodeids = new Map(topology.hosts.map((h, i) => [h, nodeidOf(hostNodeId(i))]));
  const voters = [...nodeids.values()].join(',');
  const work = mkdtempSync(join(tmpdir(), 'dmsg-hosts-dlm-'));
  // One clock for the harness and every host program (shared-clock.ts): their events are merged by time.
  const clockOffsetMs = measureWallOffsetMs();
  const now = sharedClock(clockOffsetMs);
  const parent: HistoryEvent[] = [];
  const tag = `seed ${o.seed}`;
  o.log(`dlm across hosts, ${tag}: plan ${JSON.stringify(plan)}`);

  const mesh = await HostMesh.start({
    topology, tag: 'dl', progress: o.log, safetyMs,
    program: (host, run) => ({
      script: SCRIPT,
      stdin: true,
      env: { DMSG_HOSTS_DLM: JSON.stringify({ lockspace: DLM_LOCKSPACE, seed: o.seed * 1000 + idx.get(host)! * 10 + run + 1, incarnation: run + 1, resources, stepMs: o.stepMs ?? 8, clockOffsetMs } satisfies DlmHostConfig) },
    }),
    extraArgs: (host) => {
      const views = join(work, `views-${host}`);
      mkdirSync(views, { recursive: true });
      return ['--lockspace', DLM_LOCKSPACE, '--node-id', hostNodeId(idx.get(host)!), '--voters', voters, '--views-dir', views];
    },
  });
  try {
    const rows: ReportRow[] = [{ record: mesh.records[0]!, traffic: null }];
    const cur = (h: string): RelayProcess => mesh.runs(h).at(-1)!;
    const lastEv = (h: string, ev: string): Record<string, unknown> | undefined => {
      const rs = cur(h).records;
      for (let i = rs.length - 1; i >= 0; i--) if (isEv(rs[i]!, ev)) return rs[i];
      return undefined;
    };
    const members = (h: string): number => Number(lastEv(h, 'members')?.['n'] ?? 0);
    const completed = (h: string): number => cur(h).records.filter((r) => r['type'] === 'done').length;
    const describe = (): string => topology.hosts.map((h) => `${h}: members ${members(h)}, done ${completed(h)}, granting ${granting(h) ? 'yes' : 'no'}, views "${String(lastEv(h, 'state')?.['text'] ?? '')}", recovery ${JSON.stringify(lastEv(h, 'stats')?.['recovery'] ?? null)}, running ${cur(h).running}${cur(h).otherStderr.length ? `, stderr ${cur(h).otherStderr.slice(-2).join(' | ')}` : ''}`).join('; ');
    /** The longest wait of the run (what and ms): how close the run came to the safety net. */
    let longest = { what: '', ms: 0 };
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      const start = Date.now();
      const deadline = start + safetyMs;
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`dlm across hosts (${tag}): ${what} not within ${safetyMs} ms; ${describe()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      if (Date.now() - start > longest.ms) longest = { what, ms: Date.now() - start };
    };
    /** The host's views driver holds a lease now (its last granting/stopped output is a granting one, not yet run out). */
    const granting = (h: string): boolean => {
      const rs = cur(h).records;
      for (let i = rs.length - 1; i >= 0; i--) {
        const r = rs[i]!;
        if (r['type'] === 'stopped') return false;
        if (r['type'] === 'granting') return Number(r['until']) > now();
      }
      return false;
    };
    const allIn = (): boolean => topology.hosts.every((h) => members(h) === topology.hosts.length && granting(h));
    const progress = async (what: string, hs: readonly string[]): Promise<void> => {
      const base = new Map(hs.map((h) => [h, completed(h)]));
      await until(`${progressOps} more completed operations on ${hs.join(' ')} after ${what}`, () => hs.every((h) => completed(h) >= base.get(h)! + progressOps));
    };
    const ev = async (kind: EventKind, label: string, f: () => Promise<void>): Promise<void> => {
      rows.push({ record: await mesh.event(kind, label, f), traffic: null });
    };
    const restart = async (h: string): Promise<void> => {
      await ev('restart', `restart ${h}`, () => mesh.restart(h));
      await until(`${h} restarted`, () => lastEv(h, 'started') !== undefined);
      parent.push({ type: 'restart', t: now(), node: nodeids.get(h)! });
      cur(h).send('go');
    };

    const partitions: { label: string; cutOff: string[]; cutAt: number; healAt: number }[] = [];
    await until(`every host has ${topology.hosts.length} lockspace members and a granting lease`, allIn);
    for (const h of topology.hosts) cur(h).send('go');
    await progress('the start', topology.hosts);

    for (const f of plan) {
      if (f.kind === 'kill') {
        const others = topology.hosts.filter((h) => h !== f.host);
        await ev('kill', `SIGKILL ${f.host}`, async () => {
          const victim = cur(f.host);
          const signalled = now();
          await mesh.kill(f.host);
          // The victim may still record events between the signal and its death (same clock): it died
          // after the last of them, so the kill goes there (else a completion it recorded looks posthumous).
          const last = victim.records.reduce((m, r) => (typeof r['type'] === 'string' ? Math.max(m, Number(r['t'])) : m), 0);
          parent.push({ type: 'kill', t: Math.max(signalled, last + 0.001), node: nodeids.get(f.host)! });
        });
        if (f.restart === 'after-progress') await progress(`killing ${f.host}`, others);
        await restart(f.host);
      } else {
        const label = `partition ${f.side.join(' ')} / ${topology.hosts.filter((h) => !f.side.includes(h)).join(' ')}`;
        const cutOff = topology.hosts.filter((h) => !(f.majority ?? []).includes(h));
        let cutAt = 0;
        await ev('partition', label, async () => {
          cutAt = now();
          parent.push({ type: 'net', t: cutAt, node: 0, what: label });
          await mesh.cut(f.cuts);
        });
        if (f.majority) await progress(`${label} (majority side)`, f.majority);
        let healAt = 0;
        await ev('heal', `heal ${f.side.join(' ')}`, async () => {
          await mesh.restore(f.cuts);
          healAt = now();
          parent.push({ type: 'net', t: healAt, node: 0, what: `heal ${f.side.join(' ')}` });
        });
        partitions.push({ label, cutOff, cutAt, healAt });
      }
      await until('every host back in the lockspace with a granting lease', allIn);
      await progress('the fault', topology.hosts);
    }

    // The end: every host up and in, the workload paused, pending operations settled.
    await until('every host in the lockspace at the end', allIn);
    for (const h of topology.hosts) cur(h).send('pause');
    await until('every workload paused', () => topology.hosts.every((h) => lastEv(h, 'paused') !== undefined));
    let prev = '';
    let stable = 0;
    const settleEnd = Date.now() + safetyMs;
    while (stable < 5) {
      if (Date.now() > settleEnd) throw new Error(`dlm across hosts (${tag}): pending operations did not settle; ${describe()}`);
      const before = new Map(topology.hosts.map((h) => [h, cur(h).records.length]));
      for (const h of topology.hosts) cur(h).send('status');
      await until('status answers', () => topology.hosts.every((h) => cur(h).records.slice(before.get(h)!).some((r) => isEv(r, 'status'))));
      const s = topology.hosts.map((h) => `${lastEv(h, 'status')!['pending']}/${lastEv(h, 'status')!['members']}`).join(';');
      stable = s === prev && allIn() ? stable + 1 : 0;
      prev = s;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The final snapshot must be one picture: the checker reads the `held` events right after `healed`.
    // Hosts answer at slightly different times, so a round counts only if no lock event (request,
    // convert, unlock, cancel, done, ended) happened anywhere while it was taken; then its `held`
    // events are placed, with `healed`, at the round's start (lock states did not change in between).
    let snapshot: { t: number; held: HistoryEvent[] } | null = null;
    for (let round = 1; snapshot === null; round++) {
      if (round > 10) throw new Error(`dlm across hosts (${tag}): lock events kept happening during 10 snapshot rounds; ${describe()}`);
      const marks = new Map(topology.hosts.map((h) => [h, cur(h).records.length]));
      const t0 = now();
      for (const h of topology.hosts) cur(h).send('snapshot');
      await until('snapshots', () => topology.hosts.every((h) => cur(h).records.slice(marks.get(h)!).some((r) => isEv(r, 'snapshot'))));
      const t1 = now();
      const fresh = topology.hosts.flatMap((h) => cur(h).records.slice(marks.get(h)!));
      const busy = topology.hosts.some((h) => cur(h).records.some((r) => LOCK_EVENTS.has(String(r['type'])) && Number(r['t']) >= t0 && Number(r['t']) <= t1));
      if (!busy) snapshot = { t: t0, held: fresh.filter((r) => r['type'] === 'held').map((r) => ({ ...(r as unknown as HistoryEvent), t: t0 })) };
      else await new Promise((r) => setTimeout(r, 200));
    }
    for (const h of topology.hosts) cur(h).send('drain');
    await until('every host drained', () => topology.hosts.every((h) => lastEv(h, 'drained') !== undefined));
    const endT = now();
    parent.push({ type: 'end', t: endT, node: 0 });

    // Merge every host's history (all incarnations) with the harness's events, by time.
    // `healed` and the accepted snapshot first among events at its time (rank 0, 1), then the rest in order.
    const all: HistoryEvent[] = [...parent, { type: 'healed', t: snapshot.t, node: 0 }, ...snapshot.held];
    const rank = (e: HistoryEvent): number => (e.type === 'healed' ? 0 : e.type === 'held' ? 1 : 2);
    const dir = process.env['DMSG_HOSTS_REPORT_DIR'] ?? join(tmpdir(), 'dmsg-hosts-report');
    mkdirSync(dir, { recursive: true });
    const perHost = new Map<string, HostCounts>();
    for (const h of topology.hosts) {
      const lines: string[] = [];
      const c: HostCounts = { requests: 0, grants: 0, fails: {}, incarnations: mesh.runs(h).length };
      const reqs = new Set<string>();
      for (const run of mesh.runs(h)) {
        for (const r of run.records) {
          if (typeof r['type'] !== 'string' || r['type'] === 'held') continue; // held: the accepted round only (above)
          const e = r as unknown as HistoryEvent;
          if (e.t > endT) continue; // after the drain: shutdown noise
          all.push(e);
          lines.push(JSON.stringify(e));
          if (e.type === 'request') { c.requests++; reqs.add(e.op); }
          if (e.type === 'done' && reqs.has(e.op)) {
            if (e.status === 'OK') c.grants++;
            else c.fails[e.status] = (c.fails[e.status] ?? 0) + 1;
          }
        }
      }
      perHost.set(h, c);
      writeFileSync(join(dir, `dlm-${h}.jsonl`), lines.join('\n') + '\n'); // the last run's, per host
    }
    const history = all.map((e, i) => [e, i] as const).sort((a, b) => a[0].t - b[0].t || rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([e]) => e);
    const report = checkHistory(history, { fences: 'required' });
    const violationsText = report.violations.length === 0 ? '' : describeViolations(report.violations);

    const latencies: number[] = [];
    const asked = new Map<string, number>();
    let withToken = 0;
    let pwex = 0;
    for (const e of history) {
      if (e.type === 'request') asked.set(e.op, e.t);
      else if (e.type === 'done' && e.status === 'OK') {
        if (asked.has(e.op)) latencies.push(e.t - asked.get(e.op)!);
        if (e.mode === 'PW' || e.mode === 'EX') { pwex++; if (typeof e.fence === 'number') withToken++; }
      }
    }
    latencies.sort((a, b) => a - b);
    // The cut-off side stops granting: per partition and host not in the majority, the end of the last
    // lease it announced before the heal, and the requests granted to it after that end.
    const minority: MinorityVerdict[] = partitions.flatMap((p) => p.cutOff.map((h) => {
      const id = nodeids.get(h)!;
      let leaseEnd = 0;
      for (const e of history) if (e.type === 'granting' && e.node === id && e.t < p.healAt) leaseEnd = Math.max(leaseEnd, e.until);
      const granted = history.filter((e) => e.type === 'done' && e.node === id && e.status === 'OK' && asked.has(e.op) && e.t > Math.max(leaseEnd, p.cutAt) && e.t < p.healAt);
      return { partition: p.label, host: h, cutAt: p.cutAt, healAt: p.healAt, leaseEnd, grantsAfterLease: granted.map((e) => e.t - leaseEnd) };
    }));
    const viewNumbers = [...new Set(history.flatMap((e) => (e.type === 'view' ? [e.view] : [])))].sort((a, b) => a - b);
    const q = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
    const grantMs = { p50: q(0.5), p99: q(0.99), max: Math.round(latencies.at(-1) ?? 0) };
    const table = [
      '| host | runs | requests | granted | failed (by code) |',
      '|---|---:|---:|---:|---|',
      ...[...perHost].map(([h, c]) => `| ${h} | ${c.incarnations} | ${c.requests} | ${c.grants} | ${Object.entries(c.fails).map(([k, n]) => `${k} ${n}`).join(', ') || '0'} |`),
    ].join('\n');
    const s = report.stats;
    const name = o.faults.length === 0 ? 'no faults' : o.faults.join(' + ');
    const markdown = [
      formatReport({ scenario: `DLM on ${topology.name}, ${name}, seed ${o.seed}`, hosts: topology.hosts.length, links: topology.links.length, rows, total: null }),
      table,
      '',
      `Longest wait: ${longest.ms} ms (${longest.what}; safety net ${safetyMs} ms).`,
      '',
      `Request to grant: p50 ${grantMs.p50} ms, p99 ${grantMs.p99} ms, max ${grantMs.max} ms over ${latencies.length} granted requests. Fencing tokens on ${withToken} of ${pwex} PW/EX grants. History checker over ${s.events} events (${s.ops} operations, ${s.grants} grants, ${s.lvbReads} LVB reads, ${s.kills} kills; views committed: ${viewNumbers.length}, last ${viewNumbers.at(-1) ?? '-'}): ${report.violations.length === 0 ? 'no violations' : `${report.violations.length} violations`}.`,
      ...(minority.length === 0 ? [] : ['', `Cut-off side: ${minority.map((m) => `${m.host} (${m.partition}) stopped granting ${Math.round(m.leaseEnd - m.cutAt)} ms after the cut, ${Math.round(m.healAt - m.leaseEnd)} ms before the heal, ${m.grantsAfterLease.length} requests granted after its lease`).join('; ')}.`]),
      '',
    ].join('\n');
    const base = `dlm-${topology.name}-${o.faults.length === 0 ? 'none' : o.faults.join('-')}-seed${o.seed}-${new Date().toISOString().replace(/[:.]/g, '')}`;
    writeFileSync(join(dir, `${base}.md`), markdown);
    writeFileSync(join(dir, `${base}.history.jsonl`), history.map((e) => JSON.stringify(e)).join('\n') + '\n');
    o.log(`\n${markdown}${violationsText ? `\n${violationsText}\n` : ''}(records of the last run and ${base}.md / .history.jsonl in ${dir})`);
    return { seed: o.seed, plan, history, report, violationsText, perHost, markdown, reportDir: dir, historyFile: `${base}.history.jsonl`, grantMs, fenced: { withToken, grants: pwex }, views: viewNumbers, minority, longestWait: longest };
  } catch (err) {
    // Keep what every host recorded (records and event log of each run, a lockspace dump of the live ones) for the diagnosis.
    for (const h of topology.hosts) mesh.runs(h).at(-1)!.send('dump');
    await new Promise((r) => setTimeout(r, 1000));
    const dir = join(process.env['DMSG_HOSTS_REPORT_DIR'] ?? join(tmpdir(), 'dmsg-hosts-report'), `failed-${topology.name}-seed${o.seed}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'harness.jsonl'), parent.map((e) => JSON.stringify(e)).join('\n') + '\n');
    for (const h of topology.hosts) {
      mesh.runs(h).forEach((run, i) => {
        writeFileSync(join(dir, `${h}.${i + 1}.records.jsonl`), run.records.map((r) => JSON.stringify(r)).join('\n') + '\n');
        writeFileSync(join(dir, `${h}.${i + 1}.log.jsonl`), [...run.log.map((e) => JSON.stringify(e)), ...run.otherStderr].join('\n') + '\n');
      });
    }
    throw new Error(`${(err as Error).message}\n(every host's records and log in ${dir})`, { cause: err });
  } finally {
    await mesh.close();
    rmSync(work, { recursive: true, force: true });
  }
}

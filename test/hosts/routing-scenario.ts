/**
 * The routing scenario every topology runs: build the hosts, check that the
 * service of the first host is reached from every other host at the right
 * distance, then, with echo traffic flowing, apply each kind of fault in
 * turn (cut + restore a link, kill + restart a relay, freeze + thaw a relay,
 * partition along the sites + heal) and measure each. Returns the report;
 * the caller asserts.
 */
import { lastValueFrom, toArray } from 'rxjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DMSG } from '../../src/wire/constants.ts';
import { HostMesh, type EventKind } from './host-mesh.ts';
import { formatReport, type ReportRow, type ScenarioReport } from './report.ts';
import { EchoTraffic, diffCounts, zeroCounts, type TrafficCounts } from './traffic.ts';
import { cutSet, hops, isConnected, type Topology } from './topology.ts';

/** The relay's keepalive: links silent this long are closed (IocomOptions.linkTimeoutMs default). */
export const KEEPALIVE_TIMEOUT_MS = 10_000;

export interface ReachResult {
  readonly host: string;
  readonly dist: number;
  readonly wantDist: number;
  readonly echo: string;
}

/** From every host but `target`, find `service/target` and call it once. */
export async function reachFromEveryHost(mesh: HostMesh, target: string, safetyMs: number): Promise<ReachResult[]> {
  const want = hops(mesh.topology, target, mesh.cutLinks(), mesh.liveHosts());
  const out: ReachResult[] = [];
  for (const host of mesh.liveHosts()) {
    if (host === target || !want.has(host)) continue;
    const client = await mesh.client(host);
    const signal = AbortSignal.timeout(safetyMs);
    let span = client.spans(mesh.service).find((s) => s.instance === target);
    for (let i = 0; !span && i < 100 && !signal.aborted; i++) {
      await client.waitForSpan(mesh.service, signal).catch(() => undefined);
      span = client.spans(mesh.service).find((s) => s.instance === target);
      if (!span) await new Promise((r) => setTimeout(r, 100));
    }
    if (!span) throw new Error(`${host}: no span for ${mesh.service}/${target}`);
    const tx = client.open(span, DMSG.DBG_SHELL, { aux: new TextEncoder().encode(`hello from ${host}`), delete: true });
    const msgs = await lastValueFrom(tx.rx$.pipe(toArray()));
    const echo = msgs.filter((m) => m.aux.length > 0).map((m) => new TextDecoder().decode(m.aux)).join('|');
    out.push({ host, dist: span.dist, wantDist: want.get(host)!, echo });
  }
  return out;
}

/** A link on a cycle next to `host` (cutting it leaves the mesh connected), preferring one toward `toward`. */
function cycleLinkNear(t: Topology, host: string): number {
  const all = new Set(t.hosts);
  const ks = t.links.map((_, k) => k).filter((k) => t.links[k]!.includes(host) && isConnected(t, new Set([k]), all));
  if (ks.length === 0) throw new Error(`${t.name}: no link next to ${host} lies on a cycle`);
  return ks[0]!;
}

/** A host other than `avoid` whose loss leaves the rest connected, nearest to `near`. */
function expendableHost(t: Topology, near: string, avoid: ReadonlySet<string>): string {
  const d = hops(t, near, new Set(), new Set(t.hosts));
  const cands = t.hosts
    .filter((h) => !avoid.has(h) && isConnected(t, new Set(), new Set(t.hosts.filter((x) => x !== h))))
    .sort((a, b) => (d.get(a)! - d.get(b)!) || a.localeCompare(b));
  if (cands.length === 0) throw new Error(`${t.name}: no host can be lost without splitting the mesh`);
  return cands[0]!;
}

export interface RoutingRun {
  readonly report: ScenarioReport;
  readonly markdown: string;
  readonly reachStart: readonly ReachResult[];
  readonly reachEnd: readonly ReachResult[];
}

/** Run the scenario on a topology (which must have `sites`). */
export async function runRoutingScenario(topology: Topology, tag: string, log: (l: string) => void): Promise<RoutingRun> {
  if (!topology.sites) throw new Error(`${topology.name}: needs "sites" for the partition`);
  const safetyMs = 60_000;
  const mesh = await HostMesh.start({ topology, tag, progress: log, safetyMs });
  const traffics: EchoTraffic[] = [];
  try {
    const rows: ReportRow[] = [{ record: mesh.records[0]!, traffic: null }];
    const target = topology.hosts[0]!;
    const reachStart = await reachFromEveryHost(mesh, target, safetyMs);

    // Traffic from the two hosts farthest from the target.
    const d = hops(topology, target, new Set(), new Set(topology.hosts));
    const sources = [...topology.hosts].filter((h) => h !== target).sort((a, b) => d.get(b)! - d.get(a)! || a.localeCompare(b)).slice(0, 2);
    for (const s of sources) traffics.push(new EchoTraffic(await mesh.client(s), { service: mesh.service, instance: target }));
    const totals = (): TrafficCounts => traffics.reduce((acc, t) => {
      for (const k of Object.keys(acc) as (keyof TrafficCounts)[]) acc[k] += t.counts[k];
      return acc;
    }, zeroCounts());
    const measure = async (kind: EventKind, label: string, fault: () => Promise<void>): Promise<void> => {
      const before = totals();
      const record = await mesh.event(kind, label, fault);
      rows.push({ record, traffic: diffCounts(before, totals()) });
    };

    const k = cycleLinkNear(topology, target);
    const l = mesh.links[k]!;
    await measure('cut', `cut ${l.a}-${l.b}`, () => mesh.cut([k]));
    await measure('restore', `restore ${l.a}-${l.b}`, () => mesh.restore([k]));

    const avoid = new Set([target, ...sources]);
    const victim = expendableHost(topology, target, avoid);
    await measure('kill', `SIGKILL ${victim}`, () => mesh.kill(victim));
    await measure('restart', `restart ${victim}`, () => mesh.restart(victim));

    const frozen = expendableHost(topology, target, avoid);
    await measure('freeze', `SIGSTOP ${frozen}`, () => mesh.freeze(frozen));
    await measure('thaw', `SIGCONT ${frozen}`, () => mesh.thaw(frozen));

    const cuts = cutSet(topology, new Set(topology.sites[0]));
    const cutNames = cuts.map((i) => `${mesh.links[i]!.a}-${mesh.links[i]!.b}`).join(' ');
    await measure('partition', `partition (${cutNames})`, () => mesh.cut(cuts));
    await measure('heal', `heal (${cutNames})`, () => mesh.restore(cuts));

    for (const t of traffics) await t.stop();
    const reachEnd = await reachFromEveryHost(mesh, target, safetyMs);
    const report: ScenarioReport = {
      scenario: topology.name,
      hosts: topology.hosts.length,
      links: topology.links.length,
      rows,
      total: totals(),
      notes: [`Service on ${target}; echo traffic from ${sources.join(' and ')} (one transaction at a time each, 100 ms apart).`],
    };
    const markdown = formatReport(report);
    const dir = process.env['DMSG_HOSTS_REPORT_DIR'] ?? join(tmpdir(), 'dmsg-hosts-report');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${topology.name}.md`), markdown);
    log(`\n${markdown}(written to ${join(dir, `${topology.name}.md`)})`);
    return { report, markdown, reachStart, reachEnd };
  } finally {
    for (const t of traffics) await t.stop();
    await mesh.close();
  }
}

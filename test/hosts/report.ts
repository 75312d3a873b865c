/**
 * The per-scenario report: a markdown table of the measured events, as
 * printed by `npm run test:hosts` and kept in docs/hosts.md.
 */
import type { EventRecord } from './host-mesh.ts';
import type { TrafficCounts } from './traffic.ts';

/** One row: an event's measurement and the traffic during it. */
export interface ReportRow {
  readonly record: EventRecord;
  /** Traffic from the event's start to its convergence, or null before traffic started. */
  readonly traffic: TrafficCounts | null;
}

export interface ScenarioReport {
  readonly scenario: string;
  readonly hosts: number;
  readonly links: number;
  readonly rows: readonly ReportRow[];
  /** Echo traffic of the whole run, or null when the scenario ran none. */
  readonly total: TrafficCounts | null;
  readonly notes?: readonly string[];
}

/** The report as markdown. */
export function formatReport(r: ScenarioReport): string {
  const out = [
    `### ${r.scenario}: ${r.hosts} hosts, ${r.links} links`,
    '',
    '| event | kind | live hosts | convergence ms | span msgs | span up/down/changed | downs at reachable hosts | sent | delivered | lost | dup | no route |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { record: e, traffic: t } of r.rows) {
    const tr = t ? [t.sent, t.delivered, t.lost, t.duplicated, t.unroutable] : ['', '', '', '', ''];
    out.push(`| ${e.label} | ${e.kind} | ${e.liveHosts} | ${e.convergenceMs} | ${e.spanMessages} | ${e.spanEvents.up}/${e.spanEvents.down}/${e.spanEvents.changed} | ${e.downsAtReachable} | ${tr.join(' | ')} |`);
  }
  const t = r.total;
  if (t) out.push('', `Traffic over the whole run: ${t.sent} sent, ${t.delivered} delivered, ${t.lost} lost, ${t.duplicated} duplicated, ${t.unroutable} ticks without a route.`);
  for (const n of r.notes ?? []) out.push('', n);
  return out.join('\n') + '\n';
}

/**
 * The screen of `dmsg top`: a relay's summary, its links with message and
 * byte rates (from two consecutive /stats.json snapshots) and its spans.
 * Pure: snapshots in, lines out, fitted to the terminal's width and height.
 */
import type { LinkStats, RelayStats } from './relay-observer.ts';

export interface TopSize {
  columns: number;
  rows: number;
}

/** 1234 → "1.2 KiB", for rates and sizes. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Seconds → "45s", "3m07s", "2h05m", "3d04h". */
export function formatDuration(s: number): string {
  const t = Math.max(0, Math.floor(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  if (t < 86400) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(t / 86400)}d${String(Math.floor((t % 86400) / 3600)).padStart(2, '0')}h`;
}

function rate(cur: number, prev: number | undefined, seconds: number): number | null {
  if (prev === undefined || seconds <= 0 || cur < prev) return null;
  return (cur - prev) / seconds;
}

function fmtRate(r: number | null, bytes = false): string {
  if (r === null) return '-';
  return bytes ? `${formatBytes(r)}/s` : r < 10 ? r.toFixed(1) : String(Math.round(r));
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd());
}

/** Names for router ids: this node, the peers of its links; else the id's first 8 characters. */
function namer(cur: RelayStats): (id: string) => string {
  const names = new Map<string, string>([[cur.node.nodeId, cur.node.name]]);
  for (const l of cur.links) if (l.peerNodeId && l.peerName) names.set(l.peerNodeId, l.peerName);
  return (id) => names.get(id) ?? id.slice(0, 8);
}

/** The screen for snapshot `cur` (rates against `prev`, if any). */
export function renderTop(prev: RelayStats | null, cur: RelayStats, size: TopSize, source: string): string[] {
  const seconds = prev ? (cur.time - prev.time) / 1000 : 0;
  const T = cur.totals;
  const P = prev?.totals;
  const out: string[] = [];
  out.push(`dmsg top - ${cur.node.name} (${cur.node.nodeId.slice(0, 8)}) via ${source}  up ${formatDuration(cur.node.uptimeSeconds)}  ${cur.node.ready ? 'ready' : 'NOT READY'}  [q quits]`);
  out.push(
    `links ${T.linksUp} up, ${T.linksOpened} opened, ${Object.values(T.linksClosed).reduce((a, b) => a + b, 0)} closed` +
      `   msgs/s in ${fmtRate(rate(T.messagesIn, P?.messagesIn, seconds))} out ${fmtRate(rate(T.messagesOut, P?.messagesOut, seconds))}` +
      `   in ${fmtRate(rate(T.bytesIn, P?.bytesIn, seconds), true)} out ${fmtRate(rate(T.bytesOut, P?.bytesOut, seconds), true)}` +
      `   relayed open ${T.relayedOpen}`,
  );
  const pe = Object.entries(T.protocolErrors);
  out.push(
    `spans ${cur.spans.length}  events up ${T.spanEvents.up} down ${T.spanEvents.down} changed ${T.spanEvents.changed}` +
      `   span msgs sent ${T.spanMessagesSent} refused ${T.spansRefused}` +
      `   protocol errors ${pe.reduce((a, [, n]) => a + n, 0)}${pe.length ? ` (${pe.map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}` +
      `   keepalive lost ${T.keepaliveLosses}`,
  );
  out.push('');
  const prevLinks = new Map<string, LinkStats>((prev?.links ?? []).map((l) => [l.connId, l]));
  const linkRows = cur.links.map((l) => {
    const p = prevLinks.get(l.connId);
    return [
      l.connId,
      l.peerName ?? '?',
      l.transport,
      l.direction,
      l.auth,
      formatDuration(l.upSeconds),
      fmtRate(rate(l.messagesIn, p?.messagesIn, seconds)),
      fmtRate(rate(l.messagesOut, p?.messagesOut, seconds)),
      fmtRate(rate(l.bytesIn, p?.bytesIn, seconds), true),
      fmtRate(rate(l.bytesOut, p?.bytesOut, seconds), true),
      String(l.openTransactions),
      String(l.relayedOpen),
      formatBytes(l.queuedBytes),
    ];
  });
  out.push(...table(['LINK', 'PEER', 'TRANSPORT', 'DIR', 'AUTH', 'UP', 'MSG/S IN', 'MSG/S OUT', 'IN', 'OUT', 'OPEN TX', 'RELAYED', 'QUEUED'], linkRows));
  if (linkRows.length === 0) out.push('(no links)');
  out.push('');
  const name = namer(cur);
  const spanRows = [...cur.spans]
    .sort((a, b) => a.service.localeCompare(b.service) || a.dist - b.dist || a.instance.localeCompare(b.instance))
    .map((s) => [s.service, s.instance, s.dist < 0 ? 'local' : String(s.dist), s.viaName ?? s.via ?? 'local', s.path.map(name).join(' > ')]);
  out.push(...table(['SERVICE', 'INSTANCE', 'DIST', 'VIA', 'PATH (origin first)'], spanRows));
  if (spanRows.length === 0) out.push('(no spans)');
  // Fit the terminal: cut long lines, and say how many lines did not fit.
  const width = Math.max(20, size.columns);
  let lines = out.map((l) => (l.length > width ? l.slice(0, width - 1) + '~' : l));
  const rows = Math.max(5, size.rows);
  if (lines.length > rows) lines = [...lines.slice(0, rows - 1), `... ${lines.length - rows + 1} more lines (enlarge the terminal)`];
  return lines;
}

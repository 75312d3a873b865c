/**
 * The DLM's figures for a relay's metrics registry (/metrics): per
 * lockspace, the grants, waits and blocking callbacks this node decided as
 * master, resources and locks held, messages sent/received/refused, and the
 * member count. Registered by the relay daemon when it joins lockspaces.
 */
import type { DlmNode } from '../services/dlm/index.ts';
import type { MetricFamily } from './ops/exposition.ts';
import type { MetricsRegistry } from './ops/metrics-registry.ts';
import type { LockspaceStats } from './ops/relay-observer.ts';

/** The metric families of `node`'s lockspaces now (pure read of their stats). */
export function collectDlmMetrics(node: DlmNode): MetricFamily[] {
  const spaces = node.dlm.lockspaces;
  const family = (name: string, help: string, type: MetricFamily['type'], value: (ls: (typeof spaces)[number]) => number): MetricFamily => ({
    name,
    help,
    type,
    samples: spaces.map((ls) => ({ labels: { lockspace: ls.name }, value: value(ls) })),
  });
  const refused = (ls: (typeof spaces)[number]): number => Object.values(ls.stats.refused).reduce((a, b) => a + b, 0);
  return [
    family('dmsg_dlm_grants_total', 'locks granted by this node as master', 'counter', (ls) => ls.stats.grants),
    family('dmsg_dlm_waits_total', 'requests and conversions queued by this node as master (not grantable at once)', 'counter', (ls) => ls.stats.waits),
    family('dmsg_dlm_basts_total', 'blocking callbacks decided by this node as master', 'counter', (ls) => ls.stats.basts),
    family('dmsg_dlm_messages_sent_total', 'DLM messages sent', 'counter', (ls) => ls.stats.sent),
    family('dmsg_dlm_messages_received_total', 'DLM messages received', 'counter', (ls) => ls.stats.received),
    family('dmsg_dlm_messages_refused_total', 'DLM messages refused as malformed or out of protocol', 'counter', refused),
    family('dmsg_dlm_resources', 'resources known here (mastered, cached or in use)', 'gauge', (ls) => ls.rsbs.size),
    family('dmsg_dlm_members', 'members of the lockspace', 'gauge', (ls) => ls.members.length),
  ];
}

/** Register the DLM collector as `dlm`; returns the unregister function. */
export function registerDlmMetrics(registry: MetricsRegistry, node: DlmNode): () => void {
  return registry.register('dlm', () => collectDlmMetrics(node));
}

/** One row per lockspace for the status page and /stats.json (counts only: cheap enough for every /events tick). */
export function lockspaceRows(node: DlmNode): LockspaceStats[] {
  return node.dlm.lockspaces.map((ls) => {
    let locks = 0;
    let waiting = 0;
    for (const r of ls.rsbs.values()) {
      locks += r.grant.length + r.convert.length + r.wait.length;
      waiting += r.convert.length + r.wait.length;
    }
    return { name: ls.name, members: ls.members.length, resources: ls.rsbs.size, locks, waiting, grants: ls.stats.grants, waits: ls.stats.waits, basts: ls.stats.basts };
  });
}

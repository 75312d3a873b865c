/**
 * `dmsg locks ADDR [LOCKSPACE]`: ask the relay at ADDR (started with
 * `--lockspace NAME`) for its DLM lockspaces and print, like `dlm_tool
 * lockdump`, each lockspace's members and resources: master, directory node
 * and the granted, converting and waiting queues with modes. The relay
 * answers on its `dlm-admin` service (src/services/dlm/dlm-node.ts).
 */
import { fetchLocks, formatLockdump, DLM_ADMIN_SERVICE, type LocksReport } from '../../services/dlm/index.ts';
import type { SpanInfo } from '../../span/router.ts';
import { CommandError, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialRouter, withinDeadline } from '../client.ts';

/** The text `dmsg locks` prints for a report (pure). */
export function formatLocksReport(r: LocksReport): string {
  const out: string[] = [`node ${r.node} (dlm nodeid ${r.nodeid}): ${r.lockspaces.length} lockspace${r.lockspaces.length === 1 ? '' : 's'}`];
  for (const ls of r.lockspaces) {
    out.push(`lockspace ${ls.name}: lvblen ${ls.lvblen}, members ${ls.members.join(' ')}; granted ${ls.stats.grants}, waited ${ls.stats.waits}, basts ${ls.stats.basts} (as master)`);
    if (ls.state !== undefined) out.push(`  membership: ${ls.state}`);
    const v = ls.views;
    if (v) out.push(`  views: term ${v.term} ${v.role}, view ${v.view} [${v.members.join(' ')}], ${v.granting ? `granting (${Math.round(v.leaseRemaining)} ms left)` : 'not granting'}; messages in ${v.messagesIn} out ${v.messagesOut} dropped ${v.dropped}`);
    out.push(formatLockdump(ls.name, ls.resources).trimEnd());
    if (ls.truncated) out.push(`  ... more resources not listed`);
  }
  return out.join('\n') + '\n';
}

/** The relay's own dlm-admin span: the one whose node is the dialled peer. */
function relaySpan(spans: readonly SpanInfo[], peer: string | null): SpanInfo | undefined {
  return spans.find((s) => s.service === DLM_ADMIN_SERVICE && s.via !== null && peer !== null && s.node === peer);
}

export const locksCommand: Command = {
  name: 'locks',
  summary: "print a relay's DLM lockspaces, resources, masters and lock queues (like dlm_tool lockdump)",
  usage: 'dmsg locks ADDR [LOCKSPACE]',
  details: [
    'The relay at ADDR must run a DLM (dmsg relay --lockspace NAME). Prints every lockspace it joined',
    '(or only LOCKSPACE): members (DLM node ids), then per resource its master and directory node and',
    'the granted, converting and waiting queues: lock id, granted mode (requested mode), role',
    '(local, process copy with its master, master copy with its owner).',
    'Exit 1 if the link fails, the relay runs no DLM (no dlm-admin span within --timeout-ms) or does not answer.',
  ].join('\n'),
  options: {
    json: { type: 'boolean', description: 'the report as one JSON object: {"node","nodeId","nodeid","lockspaces":[{"name","lvblen","members","resources","truncated","stats"}]}' },
    ...CLIENT_OPTIONS,
  },
  maxPositionals: 2,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const [target, lockspace = ''] = positionals;
    const settings = clientSettings(target, values, 'locks');
    const { router, link } = await dialRouter(settings, 'dmsg-locks');
    try {
      const peer = (): string | null => router.links[0]?.peerNodeId ?? null;
      const span = await withinDeadline(
        new Promise<SpanInfo>((resolve) => {
          const now = relaySpan(router.spans(DLM_ADMIN_SERVICE), peer());
          if (now) return resolve(now);
          const sub = router.spans$.subscribe(() => {
            const s = relaySpan(router.spans(DLM_ADMIN_SERVICE), peer());
            if (s) {
              sub.unsubscribe();
              resolve(s);
            }
          });
        }),
        link,
        settings.timeoutMs,
        () => new CommandError('NO_DLM', `${target} runs no DLM (no ${DLM_ADMIN_SERVICE} span of that relay within ${settings.timeoutMs} ms; start it with --lockspace NAME)`),
      );
      const report = await withinDeadline(fetchLocks(router, span, lockspace), link, settings.timeoutMs, () => new CommandError('TIMEOUT', `${target} did not answer within ${settings.timeoutMs} ms`)).catch((err: unknown) => {
        if (err instanceof CommandError) throw err;
        throw new CommandError('LOCKS_FAILED', `locks: ${(err as Error).message}`, { cause: err });
      });
      if (lockspace !== '' && report.lockspaces.length === 0) {
        io.stderr.write(`${target} has no lockspace ${JSON.stringify(lockspace)}\n`);
        return 1;
      }
      io.stdout.write(values['json'] === true ? JSON.stringify(report) + '\n' : formatLocksReport(report));
      return 0;
    } finally {
      await router.close();
    }
  },
};

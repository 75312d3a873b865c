/**
 * `dmsg spans ADDR`: link to a relay as a CLIENT, collect the spans it
 * relays to us for --wait-ms, print them and exit.
 */
import type { SpanInfo } from '../../span/router.ts';
import { intOption, stringOption, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialRouter, withinDeadline } from '../client.ts';
import { LinkFailure } from '../link-failure.ts';

/** The table `dmsg spans` prints: one row per span, columns padded. */
export function formatSpanTable(spans: readonly SpanInfo[]): string {
  const rows = spans.map((s) => [s.service, s.instance, s.node ?? '?', String(s.dist), s.viaName ?? s.via ?? 'local']);
  const head = ['SERVICE', 'INSTANCE', 'NODE', 'DIST', 'VIA'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ')).join('\n') + '\n';
}

export function spanJson(s: SpanInfo): string {
  return JSON.stringify({ service: s.service, instance: s.instance, node: s.node, dist: s.dist, via: s.viaName ?? s.via, clusterId: s.clusterId, instanceId: s.instanceId, peerType: s.peerType });
}

export const spansCommand: Command = {
  name: 'spans',
  summary: 'list the services (spans) a relay sees, with their distance',
  usage: 'dmsg spans ADDR',
  details: 'Links to the relay as a client and prints what it relays to us after --wait-ms.\nDIST is the span\'s dist as carried on the wire (as DragonFly shows it).\nExit 1 if the link fails (refused, TLS, authentication, not DMSG, timeout) before or while waiting.',
  options: {
    json: { type: 'boolean', description: 'one JSON object per line: {"service","instance","node","dist","via",...}' },
    'wait-ms': { type: 'string', valueName: 'MS', description: 'how long to collect spans (default 500)' },
    service: { type: 'string', valueName: 'NAME', description: 'only spans of this service' },
    'until-count': { type: 'string', valueName: 'N', description: 'stop waiting as soon as N (>= 1) spans are seen (--wait-ms is then the most it waits)' },
    ...CLIENT_OPTIONS,
  },
  maxPositionals: 1,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const settings = clientSettings(positionals[0], values, 'spans');
    const waitMs = intOption(values, 'wait-ms', 500, 0, 600_000, 'spans');
    const service = stringOption(values, 'service', 'spans');
    const untilCount = values['until-count'] === undefined ? undefined : intOption(values, 'until-count', 1, 1, 1_000_000, 'spans');
    const { router, link } = await dialRouter(settings, 'dmsg-spans');
    try {
      const seen = (): number => router.spans(service).filter((s) => s.via !== null).length;
      let sub: { unsubscribe(): void } | undefined;
      const enough = new Promise<void>((resolve) => {
        if (untilCount === undefined) return;
        if (seen() >= untilCount) return resolve();
        sub = router.spans$.subscribe(() => { if (seen() >= untilCount) resolve(); });
      });
      // The link failing while we wait is an error, not an empty table.
      await withinDeadline(enough, link, waitMs, () => new Error('done waiting')).catch((err: unknown) => {
        if (err instanceof LinkFailure) throw err;
      });
      sub?.unsubscribe();
      const spans = router.spans(service).filter((s) => s.via !== null).sort((a, b) => a.service.localeCompare(b.service) || a.instance.localeCompare(b.instance) || a.dist - b.dist);
      if (values['json'] === true) for (const s of spans) io.stdout.write(spanJson(s) + '\n');
      else if (spans.length === 0) io.stderr.write(`no spans seen in ${waitMs} ms\n`);
      else io.stdout.write(formatSpanTable(spans));
      return 0;
    } finally {
      await router.close();
    }
  },
};

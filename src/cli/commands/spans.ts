/**
 * `dmsg spans ADDR`: link to a relay as a CLIENT, collect the spans it
 * relays to us for --wait-ms, print them and exit.
 */
import type { SpanInfo } from '../../span/router.ts';
import { intOption, stringOption, type Command, type CommandContext } from '../command.ts';
import { CLIENT_OPTIONS, clientSettings, dialRouter } from '../client.ts';

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
  details: 'Links to the relay as a client and prints what it relays to us after --wait-ms.\nDIST counts hops from that relay: 0 = the relay advertises it itself, 1 = its neighbour, ...',
  options: {
    json: { type: 'boolean', description: 'one JSON object per line: {"service","instance","node","dist","via",...}' },
    'wait-ms': { type: 'string', valueName: 'MS', description: 'how long to collect spans (default 500)' },
    service: { type: 'string', valueName: 'NAME', description: 'only spans of this service' },
    'until-count': { type: 'string', valueName: 'N', description: 'stop waiting as soon as N spans are seen (--wait-ms is then the most it waits)' },
    ...CLIENT_OPTIONS,
  },
  maxPositionals: 1,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    const settings = clientSettings(positionals[0], values, 'spans');
    const waitMs = intOption(values, 'wait-ms', 500, 0, 600_000, 'spans');
    const service = stringOption(values, 'service', 'spans');
    const untilCount = intOption(values, 'until-count', 0, 0, 1_000_000, 'spans');
    const router = await dialRouter(settings, 'dmsg-spans');
    try {
      const seen = (): number => router.spans(service).filter((s) => s.via !== null).length;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        const sub = untilCount > 0 ? router.spans$.subscribe(() => { if (seen() >= untilCount) done(); }) : undefined;
        function done(): void {
          clearTimeout(timer);
          sub?.unsubscribe();
          resolve();
        }
        if (untilCount > 0 && seen() >= untilCount) done();
      });
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

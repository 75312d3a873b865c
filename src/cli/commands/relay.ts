/**
 * `dmsg relay`: run a mesh node until SIGINT/SIGTERM. It prints one
 * `listening ADDRESS` line per listener on stdout (the bound address, real
 * port included, usable as another relay's --connect), and logs one
 * timestamped line per link, dial and span event on stderr.
 */
import { resolveBackoffOptions } from '../../transport/index.ts';
import { listOption, stringOption, UsageError, type Command, type CommandContext, type OptionValues } from '../command.ts';
import { mergeSettings, NUMBERS, readConfigFile, toRelayConfig, validateSettings, type PartialSettings } from '../relay-config.ts';
import { startRelay } from '../relay-daemon.ts';
import { parseEndpoint } from '../address.ts';
import { clearStaleSocket } from '../stale-socket.ts';
import { EventLog, type LogFormat, type LogLevel } from '../ops/event-log.ts';
import { hostname } from 'node:os';

function intFlag(values: OptionValues, name: string): number | undefined {
  const v = stringOption(values, name, 'relay');
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 2 ** 31 - 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`, 'relay');
  return Number(v);
}

/** The command line's settings (absent flags stay undefined / empty). */
export function flagSettings(values: OptionValues): PartialSettings {
  const s: PartialSettings = {
    listen: listOption(values, 'listen'),
    connect: listOption(values, 'connect'),
    advertise: listOption(values, 'advertise'),
    'allow-key': listOption(values, 'allow-key'),
    lockspaces: listOption(values, 'lockspace'),
  };
  for (const k of ['name', 'node-id', 'key', 'tls-cert', 'tls-key', 'tls-ca', 'metrics', 'log', 'log-level', 'voters', 'views-dir'] as const) {
    const v = stringOption(values, k, 'relay');
    if (v !== undefined) s[k] = v;
  }
  for (const k of NUMBERS) {
    const v = intFlag(values, k);
    if (v !== undefined) s[k] = v;
  }
  return s;
}

/** SIGINT/SIGTERM as an AbortSignal; a second signal exits at once. */
function processShutdown(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const on = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort(sig);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return { signal: ac.signal, dispose: () => { process.off('SIGINT', on); process.off('SIGTERM', on); } };
}

export const relayCommand: Command = {
  name: 'relay',
  summary: 'run a relay node: listen, link to peers, relay spans and transactions',
  usage: 'dmsg relay',
  details: [
    'Addresses: HOST:PORT (port 0 picks a free port), [IPV6]:PORT, tls:HOST:PORT, tcp:HOST:PORT, unix:/PATH.',
    'With --tls-cert/--tls-key every bare HOST:PORT listen and dial uses TLS (tcp:HOST:PORT stays plain);',
    '--tls-ca verifies peers against that CA and makes listeners ask for client certificates.',
    '',
    'Each --connect peer is redialled with exponential backoff and full jitter when its link drops.',
    'Each --advertise SERVICE[/INSTANCE] is an echo service: a transaction opened on its span gets',
    'every message that carries aux data sent back (same command, same aux), and its DELETE answered',
    "with a DELETE. Try it with 'dmsg call HOST:PORT SERVICE TEXT'.",
    '',
    'Without --key and --allow-key, links run open (unauthenticated); make keys with dmsg keygen.',
    'stdout: one "listening ADDRESS" line per listener. stderr: event log, one line per event with time,',
    'level and node name (--log json: one JSON object per line: time, level, node, event, msg, fields).',
    '--metrics HOST:PORT serves /metrics, /stats.json, /healthz, /readyz, /events and a live status page at /;',
    "watch it in a terminal with 'dmsg top HOST:PORT'.",
    'SIGINT/SIGTERM: withdraw spans, close links and listeners, exit 0.',
    '',
    'Config file (--config): JSON with the flag names as keys, e.g.',
    '  {"name": "a", "listen": ["127.0.0.1:5700"], "connect": [], "advertise": ["echo"],',
    '   "key": "a.key", "allow-key": ["b.key.pub"], "backoff-min-ms": 100}',
    'Flags given on the command line replace the file\'s values (repeatable ones: the whole list).',
    '',
    'Limits (docs/limits.md): --max-* are daemon-wide budgets over all links; past a byte or',
    'transaction budget the link holding the most is closed, past a connection budget the newcomer.',
  ].join('\n'),
  options: {
    listen: { type: 'string', multiple: true, valueName: 'ADDR', description: 'listen here, e.g. 127.0.0.1:5700, [::1]:0, unix:/tmp/dmsg.sock' },
    connect: { type: 'string', multiple: true, valueName: 'ADDR', description: 'keep a link to this peer (redialled with backoff)' },
    name: { type: 'string', valueName: 'NAME', description: 'node name sent to peers (default: host name)' },
    'node-id': { type: 'string', valueName: 'UUID', description: 'router node id (default: random per run); fix it to know the DLM node id in advance for --voters' },
    advertise: { type: 'string', multiple: true, valueName: 'SERVICE[/INSTANCE]', description: 'advertise an echo service' },
    lockspace: { type: 'string', multiple: true, valueName: 'NAME', description: "join this DLM lockspace (config key \"lockspaces\"); inspect with 'dmsg locks'" },
    voters: { type: 'string', valueName: 'ID,ID,...', description: 'voters of the lockspaces (DLM node ids or router UUIDs): membership views with a quorum, a minority stops granting (docs/views.md)' },
    'views-dir': { type: 'string', valueName: 'DIR', description: 'keep the views state (Raft term, vote, log) in files here, for restarts (needs --voters)' },
    key: { type: 'string', valueName: 'FILE', description: "this node's Ed25519 private key (PEM), from dmsg keygen" },
    'allow-key': { type: 'string', multiple: true, valueName: 'FILE', description: "a peer's Ed25519 public key (PEM); peers must prove one" },
    'tls-cert': { type: 'string', valueName: 'FILE', description: 'TLS certificate chain (PEM)' },
    'tls-key': { type: 'string', valueName: 'FILE', description: 'TLS private key (PEM)' },
    'tls-ca': { type: 'string', valueName: 'FILE', description: 'CA bundle to verify peers (PEM); listeners then require client certificates' },
    config: { type: 'string', valueName: 'FILE', description: 'JSON config file with the same options' },
    'backoff-min-ms': { type: 'string', valueName: 'MS', description: 'first redial delay cap (default 100)' },
    'backoff-max-ms': { type: 'string', valueName: 'MS', description: 'largest redial delay (default 30000)' },
    'max-connections': { type: 'string', valueName: 'N', description: 'links open at once; more are refused (default 1024)' },
    'max-unauthenticated': { type: 'string', valueName: 'N', description: 'links still authenticating at once; more are refused (default 128)' },
    'max-buffered-bytes': { type: 'string', valueName: 'BYTES', description: 'partial messages held, all links; the largest holder is shed (default 64 MiB)' },
    'max-queued-bytes': { type: 'string', valueName: 'BYTES', description: 'bytes queued for writing, all links; the largest queue is shed (default 128 MiB)' },
    'max-transactions': { type: 'string', valueName: 'N', description: 'open transactions, all links; the link with most is shed (default 131072)' },
    'link-max-queued-bytes': { type: 'string', valueName: 'BYTES', description: 'one link\'s queued bytes past which it is shed (default 64 MiB)' },
    'link-max-transactions': { type: 'string', valueName: 'N', description: 'one link\'s open transactions; when full of ones the peer never answered our DELETE on, it is shed (default 65536)' },
    'handshake-timeout-ms': { type: 'string', valueName: 'MS', description: 'time a peer has to authenticate (default 5000)' },
    'pre-auth-buffer-bytes': { type: 'string', valueName: 'BYTES', description: 'bytes of one message held for an unauthenticated peer (default 4096)' },
    metrics: { type: 'string', valueName: 'HOST:PORT', description: 'serve /metrics (Prometheus), /stats.json, /healthz, /readyz and the live status page / here' },
    log: { type: 'string', valueName: 'FORMAT', description: 'log format on stderr: text (default) or json (one object per line)' },
    'log-level': { type: 'string', valueName: 'LEVEL', description: 'least level logged: debug, info (default), warn, error' },
    'print-config': { type: 'boolean', description: 'print the merged settings as JSON and exit' },
  },
  async run({ values, io }: CommandContext): Promise<number> {
    const configPath = stringOption(values, 'config', 'relay');
    const file = configPath === undefined ? {} : readConfigFile(configPath);
    const settings = mergeSettings(file, flagSettings(values));
    validateSettings(settings);
    if (values['print-config'] === true) {
      io.stdout.write(JSON.stringify(settings, null, 2) + '\n');
      return 0;
    }
    const config = toRelayConfig(settings);
    if (config.backoff) {
      try {
        resolveBackoffOptions(config.backoff);
      } catch (err) {
        throw new UsageError(`backoff: ${(err as Error).message}`, 'relay');
      }
    }
    const eventLog = new EventLog({ node: settings.name ?? hostname(), format: (settings.log ?? 'text') as LogFormat, level: (settings['log-level'] ?? 'info') as LogLevel, write: (t) => io.stderr.write(t), backlog: () => (io.stderr as { writableLength?: number }).writableLength ?? 0 });
    config.log = (line) => eventLog.line(line);

    // Listen for signals before binding, so a signal right after "listening" is not lost.
    const own = io.shutdown ? undefined : processShutdown();
    const shutdown = io.shutdown ?? own!.signal;
    try {
      for (const l of settings.listen) {
        const e = parseEndpoint(l, 'listen', '--listen', 'relay');
        if (e.kind === 'unix' && (await clearStaleSocket(e.path)) === 'removed') config.log(`removed stale socket ${e.path} (left by a relay that did not stop cleanly)`);
      }
      const relay = await startRelay(config);
      for (const a of relay.addresses) io.stdout.write(`listening ${a}\n`);
      if (!shutdown.aborted) await new Promise<void>((resolve) => shutdown.addEventListener('abort', () => resolve(), { once: true }));
      const why = typeof shutdown.reason === 'string' ? shutdown.reason : 'shutdown requested';
      config.log(`${why}: withdrawing spans, closing links`);
      await relay.stop();
      return 0;
    } finally {
      own?.dispose();
    }
  },
};

/**
 * The program a DLM test host runs in its namespace (`node --import tsx
 * test/hosts/dlm-host.ts RELAY-FLAGS`): the relay `dmsg relay RELAY-FLAGS`
 * runs (same flags, same settings checks, same daemon, same JSON event log
 * on stderr), with `--lockspace NAME` among the flags, plus random lock
 * traffic (dlm-workload.ts) on that lockspace of the relay's own DLM node.
 * So killing the process kills the host: relay, DLM node and its lock
 * holders at once.
 *
 * The workload is configured by the environment variable DMSG_HOSTS_DLM
 * (JSON: DlmHostConfig). Stdout: one JSON record per line, `{t, host, ev,
 * ...}` — `members` whenever the lockspace's member list changes, `view`
 * and `state` for every output of the views driver where the lockspace has
 * one, then the workload's records once the file `go` exists (the harness
 * makes it when every host has all members) and this host's lockspace has
 * `members` members (so a restarted host waits to be back in), and `stats`
 * every second.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { relayCommand, flagSettings } from '../../src/cli/commands/relay.ts';
import { mergeSettings, toRelayConfig, validateSettings } from '../../src/cli/relay-config.ts';
import { startRelay } from '../../src/cli/relay-daemon.ts';
import { parseEndpoint } from '../../src/cli/address.ts';
import { clearStaleSocket } from '../../src/cli/stale-socket.ts';
import { EventLog, type LogFormat, type LogLevel } from '../../src/cli/ops/event-log.ts';
import { runWorkload, type WorkloadOptions, type WorkloadRecord } from './dlm-workload.ts';

/** DMSG_HOSTS_DLM. */
export interface DlmHostConfig extends WorkloadOptions {
  /** The lockspace the workload uses (one of the --lockspace flags). */
  lockspace: string;
  /** Start the workload once this file exists... */
  go: string;
  /** ...and the lockspace has at least this many members (a restarted host waits to be back in). @default 0 */
  members?: number;
}

function parseFlags(args: readonly string[]): Record<string, string | boolean | string[] | undefined> {
  const options: Record<string, { type: 'boolean' | 'string'; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(relayCommand.options)) options[name] = { type: spec.type, ...(spec.multiple ? { multiple: true } : {}) };
  return parseArgs({ args: [...args], options, strict: true }).values as Record<string, string | boolean | string[] | undefined>;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env['DMSG_HOSTS_DLM'] ?? '{}') as DlmHostConfig;
  const settings = mergeSettings({}, flagSettings(parseFlags(process.argv.slice(2))));
  validateSettings(settings);
  const name = settings.name ?? hostname();
  const config = toRelayConfig(settings);
  const eventLog = new EventLog({ node: name, format: (settings.log ?? 'text') as LogFormat, level: (settings['log-level'] ?? 'info') as LogLevel, write: (t) => process.stderr.write(t) });
  config.log = (line) => eventLog.line(line);
  // As `dmsg relay` does: a Unix socket left by a killed run (a restarted host) is removed first.
  for (const l of settings.listen) {
    const e = parseEndpoint(l, 'listen', '--listen', 'relay');
    if (e.kind === 'unix' && (await clearStaleSocket(e.path)) === 'removed') config.log(`removed stale socket ${e.path} (left by a relay that did not stop cleanly)`);
  }
  const relay = await startRelay(config);
  const out = (r: Record<string, unknown>): void => { process.stdout.write(JSON.stringify({ t: Date.now(), host: name, ...r }) + '\n'); };
  const ls = relay.dlm?.lockspace(cfg.lockspace);
  if (!ls) throw new Error(`no lockspace ${cfg.lockspace}: give --lockspace ${cfg.lockspace}`);
  out({ ev: 'started', nodeid: relay.dlm!.dlm.nodeid });
  // The views driver's outputs and status (issue 14, vdrive), once the membership has them.
  const membership = relay.dlm!.memberships.get(cfg.lockspace) as unknown as Record<string, unknown> | undefined;
  for (const [key, ev] of [['views$', 'view'], ['state$', 'state']] as const) {
    const o = membership?.[key] as { subscribe?: (f: (v: unknown) => void) => unknown } | undefined;
    if (typeof o?.subscribe === 'function') o.subscribe((v) => out({ ev, value: v }));
  }

  const stop = new AbortController();
  let members = '';
  const watch = setInterval(() => {
    const m = [...ls.raw.members].join(',');
    if (m !== members) { members = m; out({ ev: 'members', members: [...ls.raw.members] }); }
  }, 50);
  const stats = setInterval(() => out({ ev: 'stats', stats: ls.raw.stats }), 1000);
  const shutdown = (): void => { stop.abort(); };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  while (!(existsSync(cfg.go) && ls.raw.members.length >= (cfg.members ?? 0)) && !stop.signal.aborted) await new Promise((r) => setTimeout(r, 50));
  if (!stop.signal.aborted) {
    out({ ev: 'go' });
    await runWorkload(ls, (r: WorkloadRecord) => out(r as unknown as Record<string, unknown>), stop.signal, cfg);
  }
  clearInterval(watch);
  clearInterval(stats);
  await relay.stop();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`dlm-host: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

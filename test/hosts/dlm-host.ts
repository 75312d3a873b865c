/**
 * The program a DLM test host runs in its namespace (`node --import tsx
 * test/hosts/dlm-host.ts RELAY-FLAGS`): the relay `dmsg relay RELAY-FLAGS`
 * runs (same flags, same settings checks, same daemon, same JSON event log
 * on stderr), with `--lockspace NAME` (and `--voters`, `--views-dir`,
 * `--node-id`) among the flags, plus the shared history recorder's seeded
 * random lock workload (test/helpers/dlm-history-recorder.ts, the one the
 * in-process and multi-process fault tests use) on that lockspace. So
 * killing the process kills the host: relay, DLM node and lock holders.
 *
 * Configured by the environment variable DMSG_HOSTS_DLM (JSON:
 * DlmHostConfig). Stdout, one JSON object per line (stdout is a pipe,
 * written synchronously on Linux, so a SIGKILL loses at most the line being
 * written; the reader drops a torn line):
 * - history events (`type`: request, done, view, granting, held ...;
 *   dlm-history-types.ts), times from the run's shared clock
 *   (shared-clock.ts: CLOCK_MONOTONIC plus the harness's offset, the same
 *   in every process and namespace of the machine);
 * - control answers (`ev`): `started {nodeid}`, `members {n}` on every
 *   change, `granting` once, `state {text}` (the views driver's status), `stats` every second (member
 *   list, generation, recovery counters), `status {pending, members}`, `paused`,
 *   `snapshot`, `drained {pending}`.
 *
 * Commands on stdin, one per line: `go` (one workload step every `stepMs`
 * until `pause`), `pause`, `status`, `snapshot` (record the `held`
 * events), `drain` (unlock everything held until nothing is pending,
 * bounded), `dump` (the lockspace's resources and queues, for failure
 * reports), `exit`.
 */
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { relayCommand, flagSettings } from '../../src/cli/commands/relay.ts';
import { mergeSettings, toRelayConfig, validateSettings } from '../../src/cli/relay-config.ts';
import { startRelay } from '../../src/cli/relay-daemon.ts';
import { parseEndpoint } from '../../src/cli/address.ts';
import { clearStaleSocket } from '../../src/cli/stale-socket.ts';
import { EventLog, type LogFormat, type LogLevel } from '../../src/cli/ops/event-log.ts';
import { LockClient } from '../helpers/dlm-history-recorder.ts';
import type { HistoryEvent } from '../helpers/dlm-history-types.ts';
import { lcg } from '../helpers/mesh.ts';
import { sharedClock } from './shared-clock.ts';

/** DMSG_HOSTS_DLM. */
export interface DlmHostConfig {
  /** The lockspace the workload uses (one of the --lockspace flags). */
  lockspace: string;
  /** Seed of this incarnation's workload. */
  seed: number;
  /** Incarnation number (1 for the first run of a host, +1 per restart). */
  incarnation: number;
  /** Resource names the workload uses. */
  resources: string[];
  /** Pause between workload steps, ms. */
  stepMs: number;
  /** LVB length of the lockspace (the relay's default). @default 32 */
  lvblen?: number;
  /** The shared clock's offset, measured once by the harness (shared-clock.ts): every process's events on one clock. */
  clockOffsetMs: number;
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
  if (typeof cfg.clockOffsetMs !== 'number' || !Number.isFinite(cfg.clockOffsetMs)) throw new Error('DMSG_HOSTS_DLM: clockOffsetMs (a number) is required');
  const now = sharedClock(cfg.clockOffsetMs);
  const line = (o: object): void => { process.stdout.write(JSON.stringify(o) + '\n'); };
  const say = (ev: string, fields: Record<string, unknown> = {}): void => line({ ev, t: now(), host: name, ...fields });
  const sink = (e: HistoryEvent): void => line(e);
  const ls = relay.dlm?.lockspace(cfg.lockspace);
  if (!ls) throw new Error(`no lockspace ${cfg.lockspace}: give --lockspace ${cfg.lockspace}`);
  const nodeid = relay.dlm!.dlm.nodeid;
  const client = new LockClient({ node: nodeid, incarnation: cfg.incarnation, ls, resources: cfg.resources, rand: lcg(cfg.seed), now, sink, lvblen: cfg.lvblen ?? 32 });

  // The views driver's outputs (docs/views.md), recorded as the fault tests' fault-node.ts does.
  const membership = relay.dlm!.memberships.get(cfg.lockspace) as unknown as { views$?: { subscribe(o: (v: unknown) => void): unknown }; state$?: { subscribe(o: (v: unknown) => void): unknown } } | undefined;
  // The driver's status text (why it does not grant), for failure reports.
  membership?.state$?.subscribe((text) => say('state', { text }));
  let saidGranting = false;
  membership?.views$?.subscribe((v) => {
    const o = v as { type: string; view: number; members?: number[]; until?: number; reason?: string };
    const base = { t: now(), node: nodeid };
    if (o.type === 'committed') sink({ type: 'view', ...base, view: o.view, members: [...(o.members ?? [])] });
    else if (o.type === 'granting') {
      sink({ type: 'granting', ...base, view: o.view, until: o.until ?? 0 });
      if (!saidGranting) say('granting');
      saidGranting = true;
    } else if (o.type === 'stopped') sink({ type: 'stopped', ...base, view: o.view, reason: o.reason ?? '' });
  });
  say('started', { nodeid });

  let lastMembers = -1;
  const watch = setInterval(() => {
    const m = ls.raw.members.length;
    if (m !== lastMembers) say('members', { n: (lastMembers = m) });
  }, 20);

  // The lockspace's counters every second (recovery runs/completions ...), for failure reports.
  const stats = setInterval(() => {
    const raw = ls.raw as unknown as { stats: { recovery?: unknown; grants: number; waits: number }; generation?: unknown };
    say('stats', { members: [...ls.raw.members], generation: raw.generation ?? null, grants: raw.stats.grants, waits: raw.stats.waits, recovery: raw.stats.recovery ?? null, pending: client.pending });
  }, 1000);
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  let running = false;
  let loop = 0;
  const go = async (): Promise<void> => {
    if (running) return;
    running = true;
    const mine = ++loop;
    while (running && loop === mine) {
      client.step();
      await sleep(cfg.stepMs);
    }
    if (loop === mine) say('paused');
  };
  const drain = async (): Promise<void> => {
    // Bounded: unlock whatever is held and idle until nothing is pending (or give up after 2000 rounds).
    for (let i = 0; i < 2000; i++) {
      client.releaseAll();
      await sleep(5);
      if (client.pending === 0 && client.heldLocks().length === 0) break;
    }
    say('drained', { pending: client.pending });
  };
  let exiting = false;
  const exit = async (): Promise<void> => {
    if (exiting) return;
    exiting = true;
    running = false;
    clearInterval(watch);
    clearInterval(stats);
    client.kill();
    await relay.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void exit());
  process.on('SIGINT', () => void exit());
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    const cmd = l.trim();
    if (cmd === 'go') void go();
    else if (cmd === 'pause') running = false;
    else if (cmd === 'status') say('status', { pending: client.pending, members: ls.raw.members.length });
    else if (cmd === 'snapshot') {
      client.snapshot();
      say('snapshot');
    } else if (cmd === 'dump') {
      const raw = ls.raw as unknown as { dump(): unknown; stats: unknown; members: readonly number[] };
      say('dump', { members: [...raw.members], stats: raw.stats, resources: raw.dump() });
    } else if (cmd === 'drain') void drain();
    else if (cmd === 'exit') void exit();
  });
  rl.on('close', () => void exit());
}

main().catch((err: unknown) => {
  process.stderr.write(`dlm-host: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

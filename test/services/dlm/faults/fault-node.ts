/**
 * One node of the multi-process fault test (processes.test.ts): a relay with
 * a DLM, started by `startRelay` (the function the `dmsg relay` bin runs,
 * with the same DLM), plus a `LockClient` workload whose history goes to a
 * JSON-lines file (one `writeSync` per event, so a SIGKILL loses at most the
 * event being written; the reader drops a torn last line).
 *
 * Run: node --conditions=dmsg-mesh-source --import tsx fault-node.ts '<config JSON>'
 * Start-up is in two steps, so that the parent can spawn processes ahead
 * of need (loading the modules is what costs seconds on a loaded machine)
 * and start each one when the addresses it links to are known: the process
 * says `loaded`, then waits for `start JSON` (the addresses to connect to)
 * before it starts its relay.
 * Commands on stdin, one per line, and their answers on stdout:
 * - `go`: run workload steps (one every `stepMs`) until `stop`; answers
 *   `steps done` when it stopped;
 * - `status`: `status pending=P members=M granting=0|1 steps=S grants=G`
 *   (G: completions that granted a mode);
 * - `snapshot R`: `snapshot R C JSON`, the application's locks (`held`
 *   events, NOT written to the log: the parent places them) and C, the
 *   number of lock events this process logged so far;
 * - `check R`: `check R C`, the same counter now (equal: no lock event
 *   since snapshot R, so the snapshot still holds);
 * - `drain`: unlock everything until nothing is pending (bounded by a
 *   wall-clock safety deadline); `drained pending=P`;
 * - `debug`: `debug JSON`, the lockspace's recovery state, the views
 *   driver's status and figures and the first resources of `dmsg locks`
 *   (for a failure message);
 * - `exit`.
 * Unasked: `listening ADDR`, `nodeid N`, `members N` on each change,
 * `granting` once.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { startRelay } from '../../../../src/cli/relay-daemon.ts';
import { LockClient } from '../../../helpers/dlm-history-recorder.ts';
import type { HistoryEvent } from '../../../helpers/dlm-history-types.ts';
import { lcg } from '../../../helpers/mesh.ts';
import { sharedClock } from '../../../hosts/shared-clock.ts';

interface NodeConfig {
  name: string;
  nodeId: string;
  log: string;
  seed: number;
  incarnation: number;
  resources: string[];
  stepMs: number;
  /** Date.now() minus CLOCK_MONOTONIC, measured by the parent: every process stamps its events with one clock (test/hosts/shared-clock.ts). */
  clockOffsetMs: number;
  /** Extra relay config (e.g. voters once the views driver lands). */
  extra?: Record<string, unknown>;
}

const LS = 'fx';
const LVBLEN = 32;
const cfg = JSON.parse(process.argv[2] ?? '{}') as NodeConfig;
const now = sharedClock(cfg.clockOffsetMs);
const fd = openSync(cfg.log, 'a');
/** While set, the LockClient's events are a snapshot for the parent, not log lines. */
let capture: HistoryEvent[] | null = null;
/** Lock events logged (everything the LockClient records; views$ outputs are not lock events). */
let lockEvents = 0;
/** Completions that granted a mode (the workload's progress). */
let grants = 0;
const VIEWS_EVENTS: ReadonlySet<string> = new Set(['view', 'granting', 'stopped']);
const sink = (e: HistoryEvent): void => {
  if (capture) {
    capture.push(e);
    return;
  }
  if (!VIEWS_EVENTS.has(e.type)) lockEvents++;
  if (e.type === 'done' && e.status === 'OK' && e.mode !== null) grants++;
  writeSync(fd, `${JSON.stringify(e)}\n`);
};
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

// Every line goes to `onLine` once the relay runs; before that only `start` counts.
let onLine: ((line: string) => void) | null = null;
let started: ((connect: string[]) => void) | null = null;
const connect = new Promise<string[]>((resolve) => (started = resolve));
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (onLine) onLine(line);
  else if (line.startsWith('start ')) started?.(JSON.parse(line.slice(6)) as string[]);
});
rl.on('close', () => void (onLine ? exit(0) : process.exit(0)));
say('loaded');

const relay = await startRelay({
  name: cfg.name,
  nodeId: cfg.nodeId,
  listen: ['127.0.0.1:0'],
  connect: await connect,
  lockspaces: [LS],
  backoff: { minMs: 20, maxMs: 200 },
  ...(cfg.extra ?? {}),
});
const dlm = relay.dlm!;
const ls = dlm.lockspace(LS)!;
const nodeid = dlm.dlm.nodeid;
const client = new LockClient({ node: nodeid, incarnation: cfg.incarnation, ls, resources: cfg.resources, rand: lcg(cfg.seed), now, sink, lvblen: LVBLEN });
const membership = dlm.memberships.get(LS) as unknown as { views$?: { subscribe(o: (v: unknown) => void): unknown } };
let saidGranting = false;
let grantingNow = false;
membership.views$?.subscribe((v) => {
  const o = v as { type: string; view: number; members?: number[]; until?: number; reason?: string };
  const base = { t: now(), node: nodeid };
  if (o.type === 'committed') sink({ type: 'view', ...base, view: o.view, members: [...(o.members ?? [])] });
  else if (o.type === 'granting') {
    sink({ type: 'granting', ...base, view: o.view, until: o.until ?? 0 });
    grantingNow = true;
    if (!saidGranting) say('granting');
    saidGranting = true;
  } else if (o.type === 'stopped') {
    grantingNow = false;
    sink({ type: 'stopped', ...base, view: o.view, reason: o.reason ?? '' });
  }
});
say(`listening ${relay.addresses[0]}`);
say(`nodeid ${nodeid}`);

let lastMembers = -1;
const watch = setInterval(() => {
  const m = ls.raw.members.length;
  if (m !== lastMembers) say(`members ${(lastMembers = m)}`);
}, 10);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let running = false;
let steps = 0;
/** Safety bounds only (the parent stops the workload and waits for the drain on conditions). */
const MAX_STEPS = 100_000;
const DRAIN_DEADLINE_MS = 90_000;

async function go(): Promise<void> {
  if (running) return;
  running = true;
  while (running && steps < MAX_STEPS) {
    client.step();
    steps++;
    await sleep(cfg.stepMs);
  }
  running = false;
  say('steps done');
}

async function drain(): Promise<void> {
  // Unlock whatever is held and idle until nothing is pending; the wall-clock deadline is a safety net
  // (a count of rounds is not: under CPU starvation recovery can outlast any fixed number of 5 ms rounds).
  const end = Date.now() + DRAIN_DEADLINE_MS;
  while (Date.now() < end) {
    client.releaseAll();
    await sleep(5);
    if (client.pending === 0 && client.heldLocks().length === 0) break;
  }
  say(`drained pending=${client.pending}`);
}

async function exit(code: number): Promise<void> {
  running = false;
  clearInterval(watch);
  client.kill();
  await relay.stop().catch(() => {});
  closeSync(fd);
  process.exit(code);
}

onLine = (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'go') void go();
  else if (cmd === 'stop') running = false;
  else if (cmd === 'status') say(`status pending=${client.pending} members=${ls.raw.members.length} granting=${grantingNow ? 1 : 0} steps=${steps} grants=${grants}`);
  else if (cmd === 'snapshot') {
    // Synchronous: no lock event of this process can fall between the count and the snapshot.
    const held: HistoryEvent[] = [];
    capture = held;
    try {
      client.snapshot();
    } finally {
      capture = null;
    }
    say(`snapshot ${arg} ${lockEvents} ${JSON.stringify(held)}`);
  } else if (cmd === 'check') say(`check ${arg} ${lockEvents}`);
  else if (cmd === 'drain') void drain();
  else if (cmd === 'debug') {
    const r = dlm.report(LS).lockspaces[0];
    const raw = ls.raw;
    say(`debug ${JSON.stringify({ node: nodeid, steps, pending: client.pending, stopped: raw.stopped, recovering: raw.recovering, recoveryStatus: raw.recoveryStatus, generation: raw.generation, pendingOperations: raw.pendingOperations, members: r?.members, state: r?.state, views: r?.views, resources: r?.resources.slice(0, 6) })}`);
  } else if (cmd === 'exit') void exit(0);
};

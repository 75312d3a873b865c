/**
 * One node of the multi-process fault test (processes.test.ts): a relay with
 * a DLM, started by `startRelay` (the function the `dmsg relay` bin runs,
 * with the same DLM), plus a `LockClient` workload whose history goes to a
 * JSON-lines file (one `writeSync` per event, so a SIGKILL loses at most the
 * event being written; the reader drops a torn last line).
 *
 * Run: node --conditions=dmsg-mesh-source --import tsx fault-node.ts '<config JSON>'
 * Commands on stdin, one per line: `go STEPS`, `status`, `snapshot`,
 * `drain`, `exit`. Answers on stdout: `listening ADDR`, `members N`,
 * `steps done`, `status pending=N members=M`, `snapshot done`,
 * `drained pending=N`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { startRelay } from '../../../../src/cli/relay-daemon.ts';
import { LockClient } from '../../../helpers/dlm-history-recorder.ts';
import type { HistoryEvent } from '../../../helpers/dlm-history-types.ts';
import { lcg } from '../../../helpers/mesh.ts';

interface NodeConfig {
  name: string;
  nodeId: string;
  connect: string[];
  log: string;
  seed: number;
  incarnation: number;
  resources: string[];
  stepMs: number;
  /** Extra relay config (e.g. voters once the views driver lands). */
  extra?: Record<string, unknown>;
}

const LS = 'fx';
const LVBLEN = 32;
const cfg = JSON.parse(process.argv[2] ?? '{}') as NodeConfig;
const now = (): number => performance.timeOrigin + performance.now();
const fd = openSync(cfg.log, 'a');
const sink = (e: HistoryEvent): void => {
  writeSync(fd, `${JSON.stringify(e)}\n`);
};
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const relay = await startRelay({
  name: cfg.name,
  nodeId: cfg.nodeId,
  listen: ['127.0.0.1:0'],
  connect: cfg.connect,
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
membership.views$?.subscribe((v) => {
  const o = v as { type: string; view: number; members?: number[]; until?: number; reason?: string };
  const base = { t: now(), node: nodeid };
  if (o.type === 'committed') sink({ type: 'view', ...base, view: o.view, members: [...(o.members ?? [])] });
  else if (o.type === 'granting') {
    sink({ type: 'granting', ...base, view: o.view, until: o.until ?? 0 });
    if (!saidGranting) say('granting');
    saidGranting = true;
  }
  else if (o.type === 'stopped') sink({ type: 'stopped', ...base, view: o.view, reason: o.reason ?? '' });
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

async function go(steps: number): Promise<void> {
  running = true;
  for (let i = 0; i < steps && running; i++) {
    client.step();
    await sleep(cfg.stepMs);
  }
  say('steps done');
}

async function drain(): Promise<void> {
  // Bounded: unlock whatever is held and idle until nothing is pending (or give up after 2000 rounds).
  for (let i = 0; i < 2000; i++) {
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

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'go') void go(Number(arg));
  else if (cmd === 'status') say(`status pending=${client.pending} members=${ls.raw.members.length}`);
  else if (cmd === 'snapshot') {
    client.snapshot();
    say('snapshot done');
  } else if (cmd === 'drain') void drain();
  else if (cmd === 'exit') void exit(0);
});
rl.on('close', () => void exit(0));

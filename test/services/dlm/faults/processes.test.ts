/**
 * The multi-process fault test: 5 node processes on 127.0.0.1, each a relay
 * with its DLM started by `startRelay` (the function the `dmsg relay` bin
 * runs, same DLM; fault-node.ts) and a seeded lock workload logging its
 * history as JSON lines. Each process links to every earlier one. The
 * parent merges the logs by time and runs the same independent checker as
 * the in-process test.
 *
 * With recovery on main, random processes are SIGKILLed mid-run and
 * restarted (same node id, new incarnation); until then that variant is
 * skipped and the run has no kills. Everything is bounded: every wait has
 * a safety deadline, every child is SIGKILLed and reaped in afterEach.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import * as dlmIndex from '../../../../src/services/dlm/index.ts';
import { DlmLock } from '../../../../src/services/dlm/index.ts';
import { nodeidOf } from '../../../../src/services/midcomms/index.ts';
import { Lockspace } from '../../../../src/services/dlm/lockspace.ts';
import { checkHistory, describeViolations } from '../../../helpers/dlm-history-checker.ts';
import type { HistoryEvent } from '../../../helpers/dlm-history-types.ts';
import { lcg } from '../../../helpers/mesh.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const NODE_SCRIPT = fileURLToPath(new URL('./fault-node.ts', import.meta.url));
const FENCES_LANDED = Object.getOwnPropertyDescriptor(DlmLock.prototype, 'fence') !== undefined;
const RECOVERY_LANDED = typeof (Lockspace.prototype as unknown as { setGate?: unknown }).setGate === 'function';
const VIEWS_LANDED = 'NO_VOTERS_STATE' in dlmIndex;
const N = 5;

interface Child {
  readonly index: number;
  readonly proc: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
  addr: string;
  nodeid: number;
}

const children: Child[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  children.length = 0;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Wait (bounded poll, a safety deadline only) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function nodeIdOf(i: number): string {
  return `00000000-0000-4000-8000-${(0xfb000 + i).toString(16).padStart(12, '0')}`;
}

function startChild(index: number, incarnation: number, connect: string[], dir: string, seed: number, extra?: Record<string, unknown>): Child {
  const config = {
    name: `p${index}`,
    nodeId: nodeIdOf(index),
    connect,
    log: join(dir, `p${index}.${incarnation}.jsonl`),
    seed: seed * 1000 + index * 10 + incarnation,
    incarnation,
    resources: ['r0', 'r1', 'r2', 'r3'],
    stepMs: 4,
    ...(extra ? { extra } : {}),
  };
  const proc = spawn(process.execPath, ['--conditions=dmsg-mesh-source', '--import', 'tsx', NODE_SCRIPT, JSON.stringify(config)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => {
    buf += s;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const child: Child = { index, proc, lines, exited, addr: '', nodeid: 0 };
  (child as unknown as { stderr: () => string }).stderr = () => err;
  children.push(child);
  return child;
}

const has = (c: Child, re: RegExp): RegExpMatchArray | null => {
  for (const l of c.lines) {
    const m = l.match(re);
    if (m) return m;
  }
  return null;
};
const last = (c: Child, re: RegExp): RegExpMatchArray | null => {
  for (let i = c.lines.length - 1; i >= 0; i--) {
    const m = c.lines[i]!.match(re);
    if (m) return m;
  }
  return null;
};
const send = (c: Child, cmd: string): void => {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.stdin!.write(`${cmd}\n`);
};

/** Read every JSON-lines log of the run and merge them by time (a torn last line of a killed process is dropped). */
function mergeLogs(dir: string, parent: HistoryEvent[]): HistoryEvent[] {
  const all: HistoryEvent[] = [...parent];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        all.push(JSON.parse(line) as HistoryEvent);
      } catch {
        // the line a SIGKILL tore
      }
    }
  }
  return all.map((e, i) => [e, i] as const).sort((a, b) => a[0].t - b[0].t || a[1] - b[1]).map(([e]) => e);
}

async function runProcesses(seed: number, kills: number, voters = false): Promise<{ history: HistoryEvent[]; killed: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dlm-faults-'));
  dirs.push(dir);
  // With voters: the relay config's voters (DLM node ids) and a directory for the views state files (they survive SIGKILL).
  const extra = voters ? { voters: Array.from({ length: N }, (_, i) => nodeidOf(nodeIdOf(i))), viewsStateDir: join(dir, 'views') } : undefined;
  if (extra) mkdirSync(extra.viewsStateDir, { recursive: true });
  const rand = lcg(seed * 7919 + 101);
  rand();
  const parent: HistoryEvent[] = [];
  const now = (): number => performance.timeOrigin + performance.now();
  const slots: Child[] = [];
  for (let i = 0; i < N; i++) {
    const c = startChild(i, 1, slots.map((s) => s.addr), dir, seed, extra);
    await until(() => has(c, /^listening (\S+)$/) !== null, `p${i} listening`);
    c.addr = has(c, /^listening (\S+)$/)![1]!;
    slots.push(c);
  }
  await until(() => slots.every((c) => last(c, /^members (\d+)$/)?.[1] === String(N)), `${N} members in every process`);
  // With voters, start the workload once every process holds a granting lease (as the in-process harness does).
  if (voters) await until(() => slots.every((c) => has(c, /^granting$/) !== null), 'a granting lease in every process');
  const steps = 150;
  for (const c of slots) send(c, `go ${steps}`);
  let killed = 0;
  for (let k = 0; k < kills; k++) {
    await new Promise((r) => setTimeout(r, 100 + Math.floor(rand() * 200)));
    const i = Math.floor(rand() * N);
    const victim = slots[i]!;
    parent.push({ type: 'kill', t: now(), node: Number(has(victim, /^nodeid (\d+)$/)?.[1] ?? 0) });
    victim.proc.kill('SIGKILL');
    await victim.exited;
    killed++;
    await new Promise((r) => setTimeout(r, 50 + Math.floor(rand() * 200)));
    const inc = children.filter((c) => c.index === i).length + 1;
    const again = startChild(i, inc, slots.filter((s) => s !== victim).map((s) => s.addr), dir, seed, extra);
    await until(() => has(again, /^listening (\S+)$/) !== null && has(again, /^nodeid \d+$/) !== null, `p${i} restarted`);
    again.addr = has(again, /^listening (\S+)$/)![1]!;
    parent.push({ type: 'restart', t: now(), node: Number(has(again, /^nodeid (\d+)$/)?.[1] ?? 0) });
    slots[i] = again;
    send(again, `go ${steps}`);
  }
  await until(() => slots.every((c) => has(c, /^steps done$/) !== null), 'every workload done', 60_000);
  // Settle: every process sees all members and its pending count stays put for a few polls.
  let prev = '';
  let stable = 0;
  for (let round = 0; round < 300 && stable < 5; round++) {
    for (const c of slots) send(c, 'status');
    await new Promise((r) => setTimeout(r, 40));
    const cur = slots.map((c) => last(c, /^status (.*)$/)?.[1] ?? '').join(';');
    stable = cur === prev && slots.every((c) => last(c, /members=(\d+)$/)?.[1] === String(N)) ? stable + 1 : 0;
    prev = cur;
  }
  parent.push({ type: 'healed', t: now(), node: 0 });
  for (const c of slots) send(c, 'snapshot');
  await until(() => slots.every((c) => has(c, /^snapshot done$/) !== null), 'snapshots');
  for (const c of slots) send(c, 'drain');
  await until(() => slots.every((c) => has(c, /^drained /) !== null), 'drained', 30_000);
  for (const c of slots) send(c, 'exit');
  await Promise.all(slots.map((c) => c.exited));
  parent.push({ type: 'end', t: now(), node: 0 });
  const history = mergeLogs(dir, parent);
  if (process.env.FAULTS_KEEP_LOG) writeFileSync(process.env.FAULTS_KEEP_LOG, history.map((e) => JSON.stringify(e)).join('\n'));
  return { history, killed };
}

describe('DLM safety under faults, 5 relay processes on 127.0.0.1', () => {
  it('a seeded workload in every process, logs merged and checked (no kills; voters once the views driver is on main)', async () => {
    const { history } = await runProcesses(41, 0, VIEWS_LANDED);
    const report = checkHistory(history, { fences: FENCES_LANDED ? 'required' : 'absent-ok' });
    expect(report.violations, describeViolations(report.violations)).toEqual([]);
    expect(report.stats.grants).toBeGreaterThan(100);
    expect(history.filter((e) => e.type === 'held').length + history.filter((e) => e.type === 'done').length).toBeGreaterThan(200);
  }, 120_000);

  // Needs recovery ("recov") and the views driver ("vdrive", the relay's voters/viewsStateDir). With
  // them (integ, 12:05 UTC) it fails: a restarted process's requests never complete (docs/faults.md
  // "Findings"); the suite skips it until that is fixed, `npm run test:faults` / FAULTS_KNOWN=1 run it.
  const known = false; // rejoin: passes with the recovery and views driver fixes
  (RECOVERY_LANDED && VIEWS_LANDED && !known ? it : it.skip)(`SIGKILL of random processes and restarts, voters configured (needs recovery and the views driver)${known ? ' [skipped with recovery until fixed: a restarted process is not re-admitted, its requests never complete]' : ''}`, async () => {
    const { history, killed } = await runProcesses(43, 3, true);
    const report = checkHistory(history, { fences: FENCES_LANDED ? 'required' : 'absent-ok' });
    expect(report.violations, describeViolations(report.violations)).toEqual([]);
    expect(killed).toBe(3);
  }, 180_000);
});

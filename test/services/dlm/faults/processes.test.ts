/**
 * The multi-process fault test: 5 node processes on 127.0.0.1, each a relay
 * with its DLM started by `startRelay` (the function the `dmsg relay` bin
 * runs, same DLM; fault-node.ts) and a seeded lock workload logging its
 * history as JSON lines. Each process links to every earlier one. The
 * parent merges the logs by time and runs the same independent checker as
 * the in-process test.
 *
 * In the second run random processes are SIGKILLed mid-run and restarted
 * (same node id, new incarnation). Nothing depends on timing luck: every
 * phase waits on a condition (loaded, listening, members and leases, the
 * workload's steps and grants, a consistent snapshot, the drain) with a
 * generous safety deadline, and the final snapshot is taken so that it is
 * consistent across the processes (`consistentSnapshot`; docs/faults.md,
 * "The 5-process run under load"). A failing run names its seed and keeps
 * its merged history. Every child is SIGKILLed and reaped in afterEach.
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
import { measureWallOffsetMs, sharedClock } from '../../../hosts/shared-clock.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const NODE_SCRIPT = fileURLToPath(new URL('./fault-node.ts', import.meta.url));
const FENCES_LANDED = Object.getOwnPropertyDescriptor(DlmLock.prototype, 'fence') !== undefined;
const RECOVERY_LANDED = typeof (Lockspace.prototype as unknown as { setGate?: unknown }).setGate === 'function';
const VIEWS_LANDED = 'NO_VOTERS_STATE' in dlmIndex;
const N = 5;
/** Seeds of the SIGKILL run (`FAULTS_PROC_SEEDS=43,44`; the suite runs 43). */
const PROC_SEEDS = (process.env.FAULTS_PROC_SEEDS ?? '43').split(',').map((x) => Number(x.trim())).filter((x) => Number.isSafeInteger(x) && x > 0);

interface Child {
  readonly index: number;
  readonly incarnation: number;
  readonly proc: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
  readonly stderr: () => string;
  addr: string;
}

const children: Child[] = [];
/** One clock for the parent and every child's history events (test/hosts/shared-clock.ts), measured once. */
const CLOCK_OFFSET_MS = measureWallOffsetMs();
const dirs: string[] = [];

afterEach(async () => {
  for (const c of children) if (alive(c)) c.proc.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  children.length = 0;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The workload's pace (one step per process every STEP_MS) and its size: see `runProcesses`. */
const STEP_MS = 4;
const MIN_STEPS = 150;
const TARGET_GRANTS = 150;
/** Safety deadlines only: every wait below ends as soon as its condition holds. */
const START_MS = 60_000;
const WORKLOAD_MS = 90_000;
const SETTLE_MS = 60_000;
const DRAIN_MS = 120_000;
const SNAPSHOT_ROUNDS = 50;

const alive = (c: Child): boolean => c.proc.exitCode === null && c.proc.signalCode === null;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What each process said last (stdout) and its stderr tail, for a failure message. */
function diagnostics(): string {
  return children
    .map((c) => `p${c.index}.${c.incarnation} ${alive(c) ? 'alive' : `exited ${c.proc.exitCode ?? c.proc.signalCode}`}: stdout ...${JSON.stringify(c.lines.slice(-4))} stderr ...${JSON.stringify(c.stderr().slice(-600))}`)
    .join('\n');
}

/**
 * Wait (bounded poll, a safety deadline only) until `cond` holds. A process
 * in `watch` that exits meanwhile fails the wait at once (not after the
 * deadline), with what every process last said.
 */
async function until(cond: () => boolean, what: string, ms: number, watch: readonly Child[] = []): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    const dead = watch.find((c) => !alive(c));
    if (dead) throw new Error(`p${dead.index}.${dead.incarnation} exited while waiting for ${what}\n${diagnostics()}`);
    if (Date.now() > end) throw new Error(`timed out (${ms} ms) waiting for ${what}\n${diagnostics()}`);
    await pause(10);
  }
}

/** Send `cmd` and wait for the first answer line after it that matches `re`. */
async function ask(c: Child, cmd: string, re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
  const from = c.lines.length;
  send(c, cmd);
  let m: RegExpMatchArray | null = null;
  await until(
    () => {
      for (let i = from; i < c.lines.length && !m; i++) m = c.lines[i]!.match(re);
      return m !== null;
    },
    `p${c.index}'s answer to ${cmd}`,
    ms,
    [c],
  );
  return m!;
}

interface Status {
  pending: number;
  members: number;
  granting: boolean;
  steps: number;
  grants: number;
}

async function status(c: Child): Promise<Status> {
  const m = await ask(c, 'status', /^status pending=(\d+) members=(\d+) granting=([01]) steps=(\d+) grants=(\d+)$/);
  return { pending: Number(m[1]), members: Number(m[2]), granting: m[3] === '1', steps: Number(m[4]), grants: Number(m[5]) };
}

function nodeIdOf(i: number): string {
  return `00000000-0000-4000-8000-${(0xfb000 + i).toString(16).padStart(12, '0')}`;
}

/**
 * Spawn a node process; it loads its modules and says `loaded` (seconds on
 * a loaded machine), then waits for `start` (see `launch`).
 */
function startChild(index: number, incarnation: number, dir: string, seed: number, extra?: Record<string, unknown>): Child {
  const config = {
    name: `p${index}`,
    nodeId: nodeIdOf(index),
    log: join(dir, `p${index}.${incarnation}.jsonl`),
    seed: seed * 1000 + index * 10 + incarnation,
    incarnation,
    resources: ['r0', 'r1', 'r2', 'r3'],
    stepMs: STEP_MS,
    clockOffsetMs: CLOCK_OFFSET_MS,
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
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-20_000)));
  // A write to a process that just died must not throw out of the test (EPIPE arrives as an 'error' event).
  proc.stdin!.on('error', () => {});
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const child: Child = { index, incarnation, proc, lines, exited, stderr: () => err, addr: '' };
  children.push(child);
  return child;
}

/** Start a loaded process's relay, linked to `connect`; resolves once it listens. */
async function launch(c: Child, connect: readonly string[]): Promise<void> {
  await until(() => has(c, /^loaded$/) !== null, `p${c.index}.${c.incarnation} loaded`, START_MS, [c]);
  send(c, `start ${JSON.stringify(connect)}`);
  await until(() => has(c, /^listening (\S+)$/) !== null && has(c, /^nodeid \d+$/) !== null, `p${c.index}.${c.incarnation} listening`, START_MS, [c]);
  c.addr = has(c, /^listening (\S+)$/)![1]!;
  expect(Number(has(c, /^nodeid (\d+)$/)![1])).toBe(nodeidOf(nodeIdOf(c.index)));
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
  if (alive(c)) c.proc.stdin!.write(`${cmd}\n`);
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

/**
 * The final snapshot, consistent across processes. The checker reads the
 * `held` events right after `healed` as one atomic snapshot and compares
 * every lock at the first other event. Five processes cannot snapshot at
 * one instant, and anything logged between two of their snapshots (a lease
 * renewal's `granting`, every ~100 ms per process) used to end the snapshot
 * early, so a process that answered later looked as if it had lost its
 * locks. So: each process takes its snapshot synchronously with its count
 * of lock events logged, NOT into its log; once all have answered the
 * parent reads the time T; then each process reports its count again. Equal
 * counts mean no lock event of that process lies between its snapshot and
 * T (its answer came after T), so at T every lock is as its snapshot says,
 * and `healed` plus all the `held` events are placed at T. Otherwise a lock
 * changed meanwhile (a late completion) and the round is taken again.
 */
async function consistentSnapshot(slots: readonly Child[], now: () => number): Promise<{ events: HistoryEvent[]; rounds: number }> {
  for (let round = 1; round <= SNAPSHOT_ROUNDS; round++) {
    const snaps = await Promise.all(slots.map((c) => ask(c, `snapshot ${round}`, new RegExp(`^snapshot ${round} (\\d+) (.*)$`))));
    const t = now();
    const checks = await Promise.all(slots.map((c) => ask(c, `check ${round}`, new RegExp(`^check ${round} (\\d+)$`))));
    if (checks.every((m, i) => m[1] === snaps[i]![1])) {
      const held = snaps.flatMap((m) => JSON.parse(m[2]!) as HistoryEvent[]);
      return { events: [{ type: 'healed', t, node: 0 }, ...held.map((e) => ({ ...e, t }))], rounds: round };
    }
    await pause(20);
  }
  throw new Error(`no consistent snapshot in ${SNAPSHOT_ROUNDS} rounds (locks kept changing)\n${diagnostics()}`);
}

/** Wait (bounded) until every process sees all N members and, with voters, holds a granting lease. */
async function whole(slots: readonly Child[], voters: boolean, what: string): Promise<void> {
  const end = Date.now() + SETTLE_MS;
  for (;;) {
    const st = await Promise.all(slots.map((c) => status(c)));
    if (st.every((s) => s.members === N && (!voters || s.granting))) return;
    if (Date.now() > end) throw new Error(`${what}: members ${st.map((s) => s.members).join('/')}, granting ${st.map((s) => Number(s.granting)).join('')} after ${SETTLE_MS} ms\n${diagnostics()}`);
    await pause(40);
  }
}

interface RunResult {
  history: HistoryEvent[];
  killed: number;
  /** Where the merged history was kept (FAULTS_KEEP_LOG), if anywhere. */
  kept: string | null;
}

async function runProcesses(seed: number, kills: number, voters = false): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'dlm-faults-'));
  dirs.push(dir);
  // With voters: the relay config's voters (DLM node ids) and a directory for the views state files (they survive SIGKILL).
  const extra = voters ? { voters: Array.from({ length: N }, (_, i) => nodeidOf(nodeIdOf(i))), viewsStateDir: join(dir, 'views') } : undefined;
  if (extra) mkdirSync(extra.viewsStateDir, { recursive: true });
  const rand = lcg(seed * 7919 + 101);
  rand();
  const parent: HistoryEvent[] = [];
  const now = sharedClock(CLOCK_OFFSET_MS);
  // The seeded fault schedule: per kill a pause, a victim, the gap before its restart.
  const schedule = Array.from({ length: kills }, () => ({ pause: 100 + Math.floor(rand() * 200), index: Math.floor(rand() * N), gap: 50 + Math.floor(rand() * 200) }));
  // All five and the restarts' next incarnations load at once (loading the modules is what takes
  // seconds on a loaded machine, so a restart comes the seeded gap after its kill); then each of the
  // five starts linked to every earlier one.
  const slots: Child[] = Array.from({ length: N }, (_, i) => startChild(i, 1, dir, seed, extra));
  const spares = schedule.map((k, j) => startChild(k.index, 2 + schedule.slice(0, j).filter((x) => x.index === k.index).length, dir, seed, extra));
  for (let i = 0; i < N; i++) await launch(slots[i]!, slots.slice(0, i).map((s) => s.addr));
  await until(() => slots.every((c) => last(c, /^members (\d+)$/)?.[1] === String(N)), `${N} members in every process`, START_MS, slots);
  // With voters, start the workload once every process holds a granting lease (as the in-process harness does).
  if (voters) await until(() => slots.every((c) => has(c, /^granting$/) !== null), 'a granting lease in every process', START_MS, slots);
  for (const c of slots) send(c, 'go');
  let killed = 0;
  for (let k = 0; k < kills; k++) {
    // Each kill hits a whole cluster (every process sees all members and, with voters, grants), so
    // the run has the same shape however slow the machine is; then the seeded pause, the workload
    // running meanwhile.
    await whole(slots, voters, `the cluster whole before kill ${k + 1}`);
    const { pause: wait, index: i, gap } = schedule[k]!;
    await pause(wait);
    const victim = slots[i]!;
    const node = nodeidOf(nodeIdOf(i));
    const again = spares[k]!;
    await until(() => has(again, /^loaded$/) !== null, `p${i}.${again.incarnation} loaded`, START_MS, [again]);
    victim.proc.kill('SIGKILL');
    await victim.exited;
    // Recorded once the process is gone, so every line it logged is earlier (a kill recorded before the
    // signal landed could precede the victim's last lines in the merge, and the checker would count them
    // for the next incarnation). Its locks count as held until a view excludes it, wherever the kill is.
    parent.push({ type: 'kill', t: now(), node });
    killed++;
    await pause(gap);
    // Recorded before the start: every line of the new incarnation (views it replays, the view
    // re-admitting it) is later.
    parent.push({ type: 'restart', t: now(), node });
    await launch(again, slots.filter((s) => s !== victim).map((s) => s.addr));
    slots[i] = again;
    send(again, 'go');
  }
  // The workload runs until every process (incarnation) made MIN_STEPS steps and the run has TARGET_GRANTS
  // grants: on a loaded machine steps come slower and requests wait longer, so a fixed step count alone
  // could leave the history too thin to mean anything.
  const grantsOf = new Map<Child, number>();
  const workloadEnd = Date.now() + WORKLOAD_MS;
  for (;;) {
    const st = await Promise.all(slots.map((c) => status(c)));
    slots.forEach((c, i) => grantsOf.set(c, st[i]!.grants));
    const grants = [...grantsOf.values()].reduce((a, b) => a + b, 0);
    if (st.every((s) => s.steps >= MIN_STEPS) && grants >= TARGET_GRANTS) break;
    if (Date.now() > workloadEnd) throw new Error(`workload: ${grants} grants, steps ${st.map((s) => s.steps).join('/')} after ${WORKLOAD_MS} ms\n${diagnostics()}`);
    await pause(50);
  }
  for (const c of slots) send(c, 'stop');
  await until(() => slots.every((c) => has(c, /^steps done$/) !== null), 'every workload stopped', SETTLE_MS, slots);
  // Settle: every process sees all members (and, with voters, holds a granting lease).
  await whole(slots, voters, 'the cluster whole after the workload');
  const snap = await consistentSnapshot(slots, now);
  parent.push(...snap.events);
  for (const c of slots) send(c, 'drain');
  await until(() => slots.every((c) => has(c, /^drained /) !== null), 'drained', DRAIN_MS, slots);
  const undrained = slots.filter((c) => has(c, /^drained pending=0$/) === null);
  if (undrained.length > 0) {
    // The checker will report the operations that never completed; say what the DLM was doing.
    const states = await Promise.all(undrained.map((c) => ask(c, 'debug', /^debug (.*)$/).then((m) => m[1]!, (err: unknown) => String(err))));
    console.error(`seed ${seed}: operations still pending after the drain:\n${states.join('\n')}`);
  }
  for (const c of slots) send(c, 'exit');
  await Promise.all(slots.map((c) => c.exited));
  parent.push({ type: 'end', t: now(), node: 0 });
  const history = mergeLogs(dir, parent);
  let kept: string | null = null;
  if (process.env.FAULTS_KEEP_LOG) {
    kept = process.env.FAULTS_KEEP_LOG.replace(/(\.jsonl)?$/, `.${seed}$1`);
    writeFileSync(kept, history.map((e) => JSON.stringify(e)).join('\n'));
  }
  return { history, killed, kept };
}

/** The checker's report as a failure message that names the seed and where the history is. */
function failure(seed: number, r: RunResult, violations: Parameters<typeof describeViolations>[0]): string {
  let where = r.kept;
  if (!where && violations.length > 0) {
    where = join(tmpdir(), `dlm-faults-processes-${seed}-${process.pid}.jsonl`);
    writeFileSync(where, r.history.map((e) => JSON.stringify(e)).join('\n'));
  }
  return `seed ${seed}${where ? `, history in ${where}` : ''}:\n${describeViolations(violations)}`;
}

describe('DLM safety under faults, 5 relay processes on 127.0.0.1', () => {
  it('a seeded workload in every process, logs merged and checked (no kills; voters once the views driver is on main)', async () => {
    const run = await runProcesses(41, 0, VIEWS_LANDED);
    const { history } = run;
    const report = checkHistory(history, { fences: FENCES_LANDED ? 'required' : 'absent-ok' });
    expect(report.violations, failure(41, run, report.violations)).toEqual([]);
    expect(report.stats.grants).toBeGreaterThan(100);
    expect(history.filter((e) => e.type === 'held').length + history.filter((e) => e.type === 'done').length).toBeGreaterThan(200);
  }, 300_000);

  // Needs recovery ("recov") and the views driver ("vdrive", the relay's voters/viewsStateDir). With
  // them (integ, 12:05 UTC) it fails: a restarted process's requests never complete (docs/faults.md
  // "Findings"); the suite skips it until that is fixed, `npm run test:faults` / FAULTS_KNOWN=1 run it.
  const known = false; // rejoin: passes with the recovery and views driver fixes
  // FAULTS_PROC_SEEDS=43,44,45 runs these seeds one after another (default: 43, the suite's).
  for (const seed of PROC_SEEDS) {
    (RECOVERY_LANDED && VIEWS_LANDED && !known ? it : it.skip)(`seed ${seed}: SIGKILL of random processes and restarts, voters configured (needs recovery and the views driver)${known ? ' [skipped with recovery until fixed: a restarted process is not re-admitted, its requests never complete]' : ''}`, async () => {
      const run = await runProcesses(seed, 3, true);
      const report = checkHistory(run.history, { fences: FENCES_LANDED ? 'required' : 'absent-ok' });
      console.log(`processes seed ${seed}: ${run.killed} kills, ${run.history.length} events, ${report.stats.grants} grants, ${report.violations.length} violations`);
      expect(report.violations, failure(seed, run, report.violations)).toEqual([]);
      expect(run.killed).toBe(3);
      expect(report.stats.grants).toBeGreaterThan(100);
    }, 300_000);
  }
});

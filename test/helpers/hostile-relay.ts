/**
 * The harness of the hostile-peer suite (test/hostile/): a real `dmsg relay`
 * process on 127.0.0.1 with an ephemeral port, its RSS sampled from
 * /proc/<pid>/status, its event log parsed for link ids and link losses; a
 * bystander client (our Router) doing echo round trips through it the whole
 * time; and the verdict every attack ends with (the relay never exited, the
 * bystander's round trips kept working, RSS stayed under the budget, the
 * attacker's link is the one closed).
 *
 * Sizes: each attack has an in-suite size (small budgets on the relay so the
 * limit is reached quickly) and a full size (the issue's numbers), chosen
 * with HOSTILE_FULL=1 (`npm run test:hostile`). HOSTILE_REPORT=FILE appends
 * one JSON line of measurements per attack to FILE (docs/hostile-before-after.md
 * is written from those).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, afterEach } from 'vitest';
import { Router } from '../../src/span/router.ts';
import { SERVICE_PEER_TYPE, type SpanInfo } from '../../src/span/router.ts';
import { connectTcp } from '../../src/transport/index.ts';
import { DMSG, DMSG_PEER } from '../../src/wire/constants.ts';
import { dmsgCliScript } from './dmsg-cli.ts';

/**
 * The `dmsg` to run: this checkout's CLI (this run's prebuilt bundle of its
 * sources, test/helpers/dmsg-cli.ts), or HOSTILE_DMSG_BIN (another build or
 * checkout's bin/dmsg.js, to compare).
 */
const relayScript = (): string => process.env['HOSTILE_DMSG_BIN'] ?? dmsgCliScript();

/** Full-size attacks (`npm run test:hostile`) instead of the in-suite ones. */
export const HOSTILE_FULL = process.env['HOSTILE_FULL'] === '1';

/** The in-suite size, or the full size under HOSTILE_FULL=1. */
export function size<T>(inSuite: T, full: T): T {
  return HOSTILE_FULL ? full : inSuite;
}

/**
 * The relay's config-file names (the same as its flags) of its budgets and
 * link limits, in one place (from the hardening work, src/cli/relay-config.ts;
 * a name the relay does not know is reported by the verdict as not applied).
 */
export const KEYS = {
  /** Per-link cap on bytes queued for sending (past it the link is shed). */
  linkQueuedBytes: 'link-max-queued-bytes',
  /** Per-link cap on open transactions (full of unanswered DELETEs: the link is shed). */
  linkTransactions: 'link-max-transactions',
  /** Daemon-wide cap on bytes queued for sending, all links together. */
  queuedBytes: 'max-queued-bytes',
  /** Daemon-wide cap on bytes buffered for messages not yet delivered (partial messages). */
  partialBytes: 'max-buffered-bytes',
  /** Daemon-wide cap on open transactions. */
  transactions: 'max-transactions',
  /** Most connections at once. */
  connections: 'max-connections',
  /** Most connections that have not authenticated yet. */
  preauthConnections: 'max-unauthenticated',
  /** Bytes of one message held for a peer that has not authenticated. */
  preauthBufferBytes: 'pre-auth-buffer-bytes',
  /** Deadline for the LNK_AUTH handshake, ms. */
  handshakeMs: 'handshake-timeout-ms',
} as const;

/** Safety net for waits on the relay: every wait ends on an event long before it. */
export const SAFETY_MS = HOSTILE_FULL ? 120_000 : 30_000;

export interface RelayOptions {
  name?: string;
  /** Extra command-line flags. */
  flags?: string[];
  /**
   * Config-file settings (budgets, keys ...) by their `dmsg relay` option
   * names. A key the relay refuses as unknown is left out (the relay is
   * started again without it) and listed in `unsupported`; the verdict
   * fails on it: the budget was not applied.
   */
  config?: Record<string, unknown>;
  /** Services to advertise. @default ['echo/NAME'] */
  advertise?: string[];
  /**
   * Hard cap on the relay's RSS, MB: above it the harness kills the relay
   * (recorded as `rssKilled`) to protect the shared machine.
   * @default 1024 in suite, 2048 full size
   */
  rssKillMb?: number;
  /** RSS sampling period, ms. @default 100 */
  sampleMs?: number;
  /**
   * Node flags of the relay process. The default caps the V8 heap as
   * docs/limits.md says a relay should run: the budgets bound what links
   * hold alive, the cap makes V8 collect a shed link's garbage before the
   * heap grows past it. @default RELAY_NODE_FLAGS
   */
  nodeFlags?: string[];
}

/** How the harness runs a relay's node (see RelayOptions.nodeFlags). */
export const RELAY_NODE_FLAGS: readonly string[] = ['--max-old-space-size=512', ...(process.env.HOSTILE_RELAY_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '')];

export interface RelayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const started: RelayProcess[] = [];
const cleanups: Array<() => void | Promise<void>> = [];

/** Register cleanup for a test file: every relay killed and every bystander closed after each test, even on failure. */
export function useHostileCleanup(): void {
  afterEach(async () => {
    await cleanupAll();
  });
  afterAll(async () => {
    await cleanupAll();
  });
}

async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0)) {
    try {
      await c();
    } catch {
      // best effort: the next one must still run
    }
  }
  const procs = started.splice(0);
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exited));
}

/** Run `fn` at cleanup (after each test). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

function readRssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface LineWaiter {
  re: RegExp;
  resolve: (m: RegExpMatchArray | null) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A running `dmsg relay` process. */
export class RelayProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<RelayExit>;
  /** Config keys asked for that this relay does not know (not applied). */
  unsupported: string[] = [];
  /** 127.0.0.1 port it listens on (after `ready()`). */
  port = 0;
  /** RSS samples: [ms since start, MB]. */
  readonly rss: Array<[number, number]> = [];
  peakRssMb = 0;
  /** Set when the harness killed it for passing rssKillMb. */
  rssKilled = false;
  exit: RelayExit | null = null;
  /** connId by the peer's local port ("accepted from 127.0.0.1:PORT: link cN"). */
  readonly #connByPort = new Map<number, string>();
  /** Link-down reason by connId. */
  readonly #down = new Map<string, string>();
  readonly #tail: string[] = [];
  readonly #waiters = new Set<LineWaiter>();
  #lineCount = 0;
  #partial = { stdout: '', stderr: '' };
  readonly #t0 = performance.now();
  readonly #sampler: ReturnType<typeof setInterval>;
  readonly #dir: string;
  readonly #rssKillMb: number;

  constructor(opts: RelayOptions = {}) {
    this.name = opts.name ?? 'R';
    this.#rssKillMb = opts.rssKillMb ?? (HOSTILE_FULL ? 2048 : 1024);
    this.#dir = mkdtempSync(join(tmpdir(), 'dmsg-hostile-'));
    const config: Record<string, unknown> = { ...opts.config };
    const args = [...(opts.nodeFlags ?? RELAY_NODE_FLAGS), relayScript(), 'relay', '--name', this.name, '--listen', '127.0.0.1:0'];
    for (const a of opts.advertise ?? [`echo/${this.name}`]) args.push('--advertise', a);
    if (Object.keys(config).length > 0) {
      const file = join(this.#dir, 'relay.json');
      writeFileSync(file, JSON.stringify(config));
      args.push('--config', file);
    }
    args.push(...(opts.flags ?? []));
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => this.#onText('stdout', s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => this.#onText('stderr', s));
    this.exited = new Promise<RelayExit>((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        clearInterval(this.#sampler);
        for (const w of [...this.#waiters]) {
          clearTimeout(w.timer);
          this.#waiters.delete(w);
          w.resolve(null);
        }
        rmSync(this.#dir, { recursive: true, force: true });
        resolve({ code, signal });
      }),
    );
    this.#sampler = setInterval(() => this.sampleRss(), opts.sampleMs ?? 100);
    started.push(this);
  }

  /** Wait for the `listening` line; throws (with the log) if the relay exits first. */
  async ready(): Promise<this> {
    const m = await this.waitForLine(/^listening 127\.0\.0\.1:(\d+)$/);
    if (!m) throw new Error(`relay ${this.name} did not start (exit ${JSON.stringify(this.exit)}):\n${this.log()}`);
    this.port = Number(m[1]);
    this.sampleRss();
    return this;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.exit === null;
  }

  /** Take one RSS sample now; returns MB (null once the process is gone). */
  sampleRss(): number | null {
    if (!this.alive) return null;
    const kb = readRssKb(this.pid);
    if (kb === null) return null;
    const mb = kb / 1024;
    this.rss.push([performance.now() - this.#t0, mb]);
    if (this.rss.length > 20_000) this.rss.splice(0, 10_000);
    if (mb > this.peakRssMb) this.peakRssMb = mb;
    if (mb > this.#rssKillMb && !this.rssKilled) {
      this.rssKilled = true;
      this.child.kill('SIGKILL');
    }
    return mb;
  }

  /** The latest RSS sample, MB. */
  get rssMb(): number {
    return this.rss.at(-1)?.[1] ?? 0;
  }

  /** Resolves with the first output line (stdout or stderr, timestamp stripped) matching `re`, or null on exit/timeout. */
  waitForLine(re: RegExp, timeoutMs = SAFETY_MS): Promise<RegExpMatchArray | null> {
    for (const l of this.#tail) {
      const m = l.match(re);
      if (m) return Promise.resolve(m);
    }
    if (!this.alive) return Promise.resolve(null);
    return new Promise((resolve) => {
      const w: LineWaiter = {
        re,
        resolve,
        timer: setTimeout(() => {
          this.#waiters.delete(w);
          resolve(null);
        }, timeoutMs),
      };
      this.#waiters.add(w);
    });
  }

  /** The relay's link id for a peer connected from 127.0.0.1:`localPort` (waits for the log line). */
  async connIdOf(localPort: number, timeoutMs = SAFETY_MS): Promise<string> {
    const known = this.#connByPort.get(localPort);
    if (known) return known;
    const m = await this.waitForLine(new RegExp(`^accepted from 127\\.0\\.0\\.1:${localPort}: link (c\\d+)$`), timeoutMs);
    if (!m) throw new Error(`relay ${this.name}: no link for local port ${localPort}\n${this.log()}`);
    return m[1]!;
  }

  /** Why the link went down (its log line), or undefined while it is up. */
  downReason(connId: string): string | undefined {
    return this.#down.get(connId);
  }

  /** Wait until `connId` is down: its reason, or null if it stayed up until the timeout (or the relay exited). */
  async waitLinkDown(connId: string, timeoutMs = SAFETY_MS): Promise<string | null> {
    const known = this.#down.get(connId);
    if (known !== undefined) return known;
    const m = await this.waitForLine(new RegExp(`^link ${connId} down(?: \\([^)]*\\))?: (.*)$`), timeoutMs);
    return m ? m[1]! : null;
  }

  /** Links that went down, with reasons. */
  get downLinks(): ReadonlyMap<string, string> {
    return this.#down;
  }

  /** The last lines of the relay's output, for failure messages. */
  log(lines = 60): string {
    return this.#tail.slice(-lines).join('\n');
  }

  /** Output lines seen in all. */
  get lineCount(): number {
    return this.#lineCount;
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }

  #onText(stream: 'stdout' | 'stderr', text: string): void {
    const all = this.#partial[stream] + text;
    const parts = all.split('\n');
    this.#partial[stream] = parts.pop()!;
    for (const raw of parts) this.#onLine(normalizeLine(raw));
  }

  #onLine(line: string): void {
    this.#lineCount++;
    this.#tail.push(line);
    if (this.#tail.length > 2000) this.#tail.splice(0, 1000);
    let m = /^accepted from 127\.0\.0\.1:(\d+): link (c\d+)$/.exec(line);
    if (m) this.#connByPort.set(Number(m[1]), m[2]!);
    m = /^link (c\d+) down(?: \([^)]*\))?: (.*)$/.exec(line);
    if (m) this.#down.set(m[1]!, m[2]!);
    for (const w of [...this.#waiters]) {
      const wm = line.match(w.re);
      if (wm) {
        clearTimeout(w.timer);
        this.#waiters.delete(w);
        w.resolve(wm);
      }
    }
  }
}

/**
 * A log line as the harness matches it: without the timestamp, the level and
 * the `[node]` prefix, whichever the relay's log format of the day puts there
 * ("2026-...Z [R] link c2 down: ...", "info  [R] link c2 down: ...").
 */
export function normalizeLine(raw: string): string {
  return raw
    .replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z\s+/, '')
    .replace(/^(?:debug|info|warn|error)\s+/, '')
    .replace(/^\[[^\]\s]+\]\s+/, '');
}

/**
 * Start a relay and wait until it listens. A config key it refuses as
 * unknown is dropped (and recorded in `unsupported`), and the relay started
 * again: so the same suite measures a relay from before a budget existed.
 */
export async function startHostileRelay(opts: RelayOptions = {}): Promise<RelayProcess> {
  const config: Record<string, unknown> = { ...opts.config };
  const unsupported: string[] = [];
  for (;;) {
    const relay = new RelayProcess({ ...opts, config });
    try {
      await relay.ready();
      relay.unsupported = unsupported;
      return relay;
    } catch (err) {
      const m = /unknown option "([^"]+)"/.exec(relay.log());
      if (!m || !(m[1]! in config)) throw err;
      delete config[m[1]!];
      unsupported.push(m[1]!);
    }
  }
}

// ---- the bystander -------------------------------------------------------------

export interface BystanderOptions {
  /** Service whose echo it calls. @default 'echo' */
  service?: string;
  /** Pause between round trips, ms (pacing, not synchronisation). @default 20 */
  intervalMs?: number;
  /** A round trip not answered within this is a failure. @default 10000 */
  rttTimeoutMs?: number;
  /** peer_mask of its LNK_CONN. @default service spans only (attack spans are left out) */
  peerMask?: bigint;
  /** Its Ed25519 key pair, for a relay that requires LNK_AUTH. */
  keyPair?: { privateKey: KeyObject; publicKey: KeyObject };
}

export interface BystanderResult {
  roundTrips: number;
  failures: string[];
  /** Why its link ended, if it did while the attack ran. */
  linkLost: string | null;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** A well-behaved client: echo round trips through the relay, all the time, until stop(). */
export class Bystander {
  readonly router: Router;
  /** The relay's link id for it. */
  connId = '';
  readonly latencies: number[] = [];
  readonly failures: string[] = [];
  linkLost: string | null = null;
  #span: SpanInfo | null = null;
  #running = false;
  #loop: Promise<void> = Promise.resolve();
  #stopping = false;
  readonly #opts: Required<Omit<BystanderOptions, 'keyPair'>>;

  constructor(opts: BystanderOptions = {}) {
    const { keyPair, ...rest } = opts;
    this.#opts = { service: 'echo', intervalMs: 20, rttTimeoutMs: 10_000, peerMask: 1n << BigInt(SERVICE_PEER_TYPE), ...rest };
    this.router = new Router({ name: 'bystander', peerType: DMSG_PEER.CLIENT, peerMask: this.#opts.peerMask, ...(keyPair ? { iocom: { keyPair } } : {}) });
  }

  /** Connect, find the echo span, do one round trip, then keep going in the background. */
  async start(relay: RelayProcess): Promise<this> {
    const socket = (await connectTcp({ host: '127.0.0.1', port: relay.port })) as unknown as Socket;
    const link = this.router.attach(socket);
    link.iocom.closed$.subscribe((r) => {
      if (!this.#stopping) this.linkLost = r.kind === 'error' ? `${(r.error as { code?: string }).code ?? ''} ${r.error.message}` : r.kind;
    });
    this.connId = await relay.connIdOf(socket.localPort!);
    this.#span = await this.router.waitForSpan(this.#opts.service, AbortSignal.timeout(SAFETY_MS));
    await this.roundTrip();
    if (this.failures.length > 0) throw new Error(`bystander: first round trip failed: ${this.failures.join('; ')}`);
    this.#running = true;
    this.#loop = this.#run();
    onCleanup(() => this.stop().then(() => undefined));
    return this;
  }

  /** One echo round trip; returns its latency in ms, or null (recorded in failures). */
  async roundTrip(): Promise<number | null> {
    const t0 = performance.now();
    const text = `rt ${this.latencies.length + this.failures.length}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const tx = this.router.open(this.#span!, DMSG.DBG_SHELL, { aux: new TextEncoder().encode(text), delete: true });
      const all = lastValueFrom(tx.rx$.pipe(toArray()));
      const msgs = await Promise.race([all, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no echo within ${this.#opts.rttTimeoutMs} ms`)), this.#opts.rttTimeoutMs); })]);
      const echoed = msgs.filter((m) => m.aux.length > 0).map((m) => new TextDecoder().decode(m.aux));
      if (echoed.length !== 1 || echoed[0] !== text) throw new Error(`echo of ${JSON.stringify(text)} came back as ${JSON.stringify(echoed)}`);
      const ms = performance.now() - t0;
      this.latencies.push(ms);
      return ms;
    } catch (err) {
      if (!this.#stopping) this.failures.push(`${((performance.now() - t0) | 0)} ms: ${(err as Error).message}`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(): Promise<void> {
    while (this.#running && this.linkLost === null) {
      await this.roundTrip();
      if (this.failures.length > 50) break; // bounded: a dead relay ends the loop
      await new Promise((r) => setTimeout(r, this.#opts.intervalMs));
    }
  }

  /** Stop the loop and close the link; the results of the whole run. */
  async stop(): Promise<BystanderResult> {
    this.#running = false;
    await this.#loop;
    const result = this.result();
    this.#stopping = true;
    await Promise.race([this.router.close(), new Promise((r) => setTimeout(r, 2000))]);
    return result;
  }

  result(): BystanderResult {
    const s = [...this.latencies].sort((a, b) => a - b);
    const q = (p: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]!);
    return { roundTrips: s.length, failures: [...this.failures], linkLost: this.linkLost, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: s.at(-1) ?? NaN };
  }
}

export async function startBystander(relay: RelayProcess, opts?: BystanderOptions): Promise<Bystander> {
  return new Bystander(opts).start(relay);
}

// ---- measurements and the verdict ------------------------------------------------------

export interface AttackReport {
  attack: string;
  full: boolean;
  /** What happened, e.g. 'relay exited', 'attacker link closed', 'none within 60 s'. */
  effect: string;
  /** ms from the start of the attack to the effect (null: no effect seen). */
  timeToEffectMs: number | null;
  baselineRssMb: number;
  peakRssMb: number;
  relayExit: RelayExit | null;
  rssKilled: boolean;
  bystander: BystanderResult | null;
  [extra: string]: unknown;
}

/** Print the measurements of one attack (and append them to $HOSTILE_REPORT). */
export function report(r: AttackReport): void {
  const line = JSON.stringify({ ...r, at: new Date().toISOString() });
  console.log(`hostile-report ${line}`);
  const file = process.env['HOSTILE_REPORT'];
  if (file) appendFileSync(file, line + '\n');
}

export interface Verdict {
  relay: RelayProcess;
  bystander: BystanderResult;
  /** Round trips slower than this fail the verdict. */
  maxLatencyMs: number;
  /** Peak RSS above this fails the verdict, MB. */
  rssLimitMb: number;
  /** The attacker's link ids: each must have been closed by the relay. */
  attackerConnIds?: string[];
  /** The relay's reason for closing the bystander's link, taken before the bystander left (undefined: never closed). */
  bystanderDown: string | undefined;
}

/**
 * Everything the issue's suite asserts, as one list of broken promises
 * (empty: the relay held). Kept as data so a failing test names every
 * property it broke, not only the first.
 */
export function brokenPromises(v: Verdict): string[] {
  const broken: string[] = [];
  const { relay, bystander } = v;
  if (relay.unsupported.length > 0) broken.push(`relay does not know the option(s) ${relay.unsupported.join(', ')}: the budget was not applied`);
  if (!relay.alive) broken.push(`relay process exited: ${JSON.stringify(relay.exit)}${relay.rssKilled ? ` (killed by the harness at RSS ${relay.peakRssMb.toFixed(0)} MB)` : ''}`);
  if (bystander.linkLost !== null) broken.push(`bystander lost its link: ${bystander.linkLost}`);
  if (v.bystanderDown !== undefined) broken.push(`relay closed the bystander's link: ${v.bystanderDown}`);
  if (bystander.failures.length > 0) broken.push(`bystander round trips failed (${bystander.failures.length}): ${bystander.failures.slice(0, 3).join('; ')}`);
  if (bystander.roundTrips === 0) broken.push('bystander made no round trip');
  if (!(bystander.maxMs <= v.maxLatencyMs)) broken.push(`bystander's slowest round trip took ${bystander.maxMs.toFixed(0)} ms (bound ${v.maxLatencyMs} ms)`);
  if (relay.peakRssMb > v.rssLimitMb) broken.push(`relay RSS peaked at ${relay.peakRssMb.toFixed(0)} MB (limit ${v.rssLimitMb.toFixed(0)} MB)`);
  for (const c of v.attackerConnIds ?? []) if (relay.downReason(c) === undefined) broken.push(`attacker's link ${c} is still open`);
  return broken;
}

/** Elapsed ms since `t0` (performance.now()). */
export function since(t0: number): number {
  return Math.round(performance.now() - t0);
}

/**
 * The effect an attack is waiting for: the relay exiting, or the attacker's
 * link `connId` closing (`label` names it in the effect, e.g. 'attacker
 * link closed: <reason>'). `effect` starts as `none` and `timeToEffectMs`
 * as null; both are set once, when the first of the two happens, with the
 * time since `t0` (the attack's start, performance.now()).
 */
export class EffectWatch {
  readonly t0: number;
  effect: string;
  timeToEffectMs: number | null = null;
  readonly #done: Promise<void>;

  constructor(relay: RelayProcess, connId: string, label: string, none: string, t0 = performance.now()) {
    this.t0 = t0;
    this.effect = none;
    this.#done = Promise.race([
      relay.exited.then(() => 'relay exited'),
      relay.waitLinkDown(connId, SAFETY_MS * 2).then((r) => (r === null ? null : `${label} closed: ${r}`)),
    ]).then((what) => {
      if (what !== null && this.timeToEffectMs === null) {
        this.effect = what;
        this.timeToEffectMs = since(this.t0);
      }
    });
  }

  /** Wait for the effect, at most 10 s: the relay may still be working through what it read (a safety net, not a sleep: the effect ends it). */
  settle(): Promise<void> {
    return Promise.race([this.#done, new Promise<void>((r) => setTimeout(r, 10_000))]);
  }
}

export interface AttackEnd {
  attack: string;
  relay: RelayProcess;
  bystander: Bystander;
  /** What happened and when (ms from the attack's start). */
  effect: string;
  timeToEffectMs: number | null;
  baselineRssMb: number;
  maxLatencyMs: number;
  rssLimitMb: number;
  attackerConnIds?: string[];
  /** More measurements for the report. */
  extra?: Record<string, unknown>;
}

/**
 * End an attack: stop the bystander, take a last RSS sample, report the
 * measurements, and return the broken promises (empty: the relay held).
 */
export async function finishAttack(e: AttackEnd): Promise<string[]> {
  // One more round trip after the attack: the relay still serves (and a throw
  // that rxjs reports on a later tick has had its chance to kill the process).
  await e.bystander.roundTrip();
  e.relay.sampleRss();
  const bystanderDown = e.relay.downReason(e.bystander.connId);
  const by = await e.bystander.stop();
  report({
    attack: e.attack,
    full: HOSTILE_FULL,
    effect: e.effect,
    timeToEffectMs: e.timeToEffectMs,
    baselineRssMb: Math.round(e.baselineRssMb),
    peakRssMb: Math.round(e.relay.peakRssMb),
    relayExit: e.relay.exit,
    rssKilled: e.relay.rssKilled,
    bystander: { ...by, p50Ms: round1(by.p50Ms), p99Ms: round1(by.p99Ms), maxMs: round1(by.maxMs), failures: by.failures.slice(0, 5) },
    attackerLinks: (e.attackerConnIds ?? []).map((c) => `${c}: ${e.relay.downReason(c) ?? 'open'}`),
    unsupported: e.relay.unsupported,
    ...e.extra,
  });
  const v: Verdict = { relay: e.relay, bystander: by, maxLatencyMs: e.maxLatencyMs, rssLimitMb: e.rssLimitMb, bystanderDown };
  if (e.attackerConnIds) v.attackerConnIds = e.attackerConnIds;
  return brokenPromises(v);
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Bound on the bystander's slowest round trip under attack. Generous on
 * purpose: the suite runs on 2 cores shared with other work (load averages
 * of 15 were seen), and a relay that a peer really stalls loses the
 * bystander's link to the 10 s keepalive (every attack did before the fixes,
 * or passed 5.6 s). HOSTILE_MAX_LATENCY_MS overrides it.
 */
export const MAX_LATENCY_MS = Number(process.env['HOSTILE_MAX_LATENCY_MS'] ?? 5000);

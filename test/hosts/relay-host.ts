/**
 * One `dmsg relay` process inside a test host's network namespace
 * (`ip netns exec NS node bin/dmsg.js relay ... --log json`), with its JSON
 * event log parsed line by line, and a stats agent in the same namespace to
 * read its /stats.json from the namespace's loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/dmsg.js', import.meta.url));
const AGENT = fileURLToPath(new URL('./stats-agent.mjs', import.meta.url));
/** The repository root (where `--import tsx` resolves tsx). */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Log lines kept per relay process (older ones are dropped). */
const MAX_LOG_LINES = 20_000;

/** One JSON log line of a relay (see docs/operability.md). */
export interface LogEvent {
  /** Milliseconds since the epoch, from the line's `time`. */
  readonly t: number;
  readonly event: string;
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * What a host runs instead of `dmsg relay` (e.g. test/hosts/dlm-host.ts: the
 * relay plus a workload): `node --import tsx SCRIPT ARGS` with `env` added.
 */
export interface HostProgram {
  /** Absolute path of a TypeScript or JavaScript program taking `dmsg relay`'s flags. */
  readonly script: string;
  /** Environment variables added to the program's. @default none */
  readonly env?: Readonly<Record<string, string>>;
  /** Give the program a stdin pipe (RelayProcess.send writes lines to it). @default false: no stdin */
  readonly stdin?: boolean;
}

/** Records (JSON lines of stdout) kept per process (older ones are dropped). */
const MAX_RECORDS = 200_000;

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Split a stream of text chunks into lines. */
function onLines(stream: NodeJS.ReadableStream, f: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (s: string) => {
    rest += s;
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) {
      f(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  });
}

/** One run of a relay process (a restart makes a new one). */
export class RelayProcess {
  readonly child: ChildProcess;
  readonly log: LogEvent[] = [];
  /** stderr lines that were not JSON (tsx warnings, crashes). */
  readonly otherStderr: string[] = [];
  readonly exited: Promise<Exit>;
  /** JSON objects the program printed on stdout, one per line (a HostProgram's records; `dmsg relay` prints none). */
  readonly records: Record<string, unknown>[] = [];
  /** Records dropped past MAX_RECORDS. */
  recordsDropped = 0;
  #listeners = new Set<(e: LogEvent) => void>();

  constructor(ns: string, args: readonly string[], program?: HostProgram) {
    const argv = program ? ['--import', 'tsx', program.script, ...args] : [BIN, 'relay', ...args];
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...argv], { stdio: [program?.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...program?.env }, cwd: REPO });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    this.child.stdin?.on('error', () => undefined);
    onLines(this.child.stdout!, (line) => {
      if (!line.startsWith('{')) return;
      try {
        this.records.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        return;
      }
      if (this.records.length > MAX_RECORDS) { this.records.shift(); this.recordsDropped++; }
    });
    onLines(this.child.stderr!, (line) => {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        if (this.otherStderr.length < 200) this.otherStderr.push(line);
        return;
      }
      const { time, event, msg, level: _l, node: _n, ...fields } = o;
      const e: LogEvent = { t: Date.parse(String(time)), event: String(event), msg: String(msg), fields };
      this.log.push(e);
      if (this.log.length > MAX_LOG_LINES) this.log.splice(0, this.log.length - MAX_LOG_LINES);
      for (const l of this.#listeners) l(e);
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Call f for every later log line; returns the unsubscribe. */
  onEvent(f: (e: LogEvent) => void): () => void {
    this.#listeners.add(f);
    return () => this.#listeners.delete(f);
  }

  /** Resolves with the first log line (past or future) that matches; rejects after safetyMs or on exit. */
  waitFor(match: (e: LogEvent) => boolean, safetyMs: number, what: string): Promise<LogEvent> {
    const past = this.log.find(match);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new Error(`${what}: not seen within ${safetyMs} ms`)); }, safetyMs);
      const off = this.onEvent((e) => {
        if (match(e)) { clearTimeout(timer); off(); resolve(e); }
      });
      void this.exited.then((x) => {
        clearTimeout(timer);
        off();
        reject(new Error(`${what}: relay exited (${x.code ?? x.signal}) first; stderr: ${this.otherStderr.slice(-5).join(' | ')}`));
      });
    });
  }

  /** Write one line to the program's stdin (HostProgram.stdin); ignored once it has exited. */
  send(line: string): void {
    if (this.running && this.child.stdin) this.child.stdin.write(`${line}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }
}

/** The stats agent of one namespace. */
export class StatsAgent {
  readonly child: ChildProcess;
  #next = 1;
  #pending = new Map<number, (r: { status?: number; body?: string; error?: string }) => void>();

  constructor(ns: string) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.child.stdin!.on('error', () => undefined);
    onLines(this.child.stdout!, (line) => {
      try {
        const r = JSON.parse(line) as { id: number; status?: number; body?: string; error?: string };
        this.#pending.get(r.id)?.(r);
        this.#pending.delete(r.id);
      } catch {
        // not ours
      }
    });
    this.child.once('exit', () => {
      for (const f of this.#pending.values()) f({ error: 'stats agent exited' });
      this.#pending.clear();
    });
  }

  /** GET a URL inside the namespace; resolves with the parsed JSON body or null on any failure (2 s agent timeout). */
  getJson(url: string): Promise<unknown> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(null);
    const id = this.#next++;
    return new Promise((resolve) => {
      const safety = setTimeout(() => { this.#pending.delete(id); resolve(null); }, 5000);
      this.#pending.set(id, (r) => {
        clearTimeout(safety);
        if (r.status !== 200 || r.body === undefined) return resolve(null);
        try {
          resolve(JSON.parse(r.body));
        } catch {
          resolve(null);
        }
      });
      this.child.stdin!.write(JSON.stringify({ id, url }) + '\n');
    });
  }

  close(): void {
    this.child.stdin!.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Helpers of the ops tests: a strict Prometheus text parser, HTTP fetches, a bounded wait on a condition. */
import { startRelay, type RelayConfig, type RelayHandle } from '../../src/cli/relay-daemon.ts';

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: ParsedSample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

/**
 * Parse Prometheus text format 0.0.4 strictly: every line is a HELP, a TYPE
 * (before the family's samples, once) or a sample of a declared family.
 * Throws with the line on anything else.
 */
export function parseExposition(text: string): ParsedExposition {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: ParsedSample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) {
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`bad metric name: ${line}`);
      if (kind === 'TYPE') {
        if (types.has(name)) throw new Error(`second TYPE: ${line}`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type: ${line}`);
        if (samples.some((s) => s.name === name)) throw new Error(`TYPE after samples: ${line}`);
        types.set(name, rest);
      } else help.set(name, rest);
      continue;
    }
    const s = SAMPLE.exec(line);
    if (!s) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const name = s[1]!;
    if (!types.has(name)) throw new Error(`sample of undeclared family: ${line}`);
    const labels: Record<string, string> = {};
    if (s[2] !== undefined && s[2] !== '') {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < s[2].length) {
        const l = LABEL.exec(s[2]);
        if (!l) throw new Error(`bad labels: ${line}`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      }
    }
    const v = s[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`bad value: ${line}`);
    samples.push({ name, labels, value });
  }
  return { types, help, samples };
}

/** Sum of the samples of `name` whose labels include `match`. */
export function sum(p: ParsedExposition, name: string, match: Record<string, string> = {}): number {
  return p.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

export async function get(address: string, path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`http://${address}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

export async function scrape(address: string): Promise<ParsedExposition> {
  const r = await get(address, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
  return parseExposition(r.body);
}

/**
 * Poll an async condition until it holds (a safety-net deadline, not a
 * timing assumption: the condition is what the test waits for).
 */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Relays started by a test, stopped by `stopAll()`. */
export class Relays {
  readonly all: RelayHandle[] = [];
  async start(config: RelayConfig): Promise<RelayHandle> {
    const r = await startRelay({ backoff: { minMs: 20, maxMs: 200 }, ...config });
    this.all.push(r);
    return r;
  }
  async stopAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((r) => r.stop()));
  }
}

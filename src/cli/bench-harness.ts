/**
 * A tiny, dependency-free benchmark harness: time a batch function for a
 * budget after warm-up, report the median ops/s of several rounds, and print
 * results as a table or as JSON lines.
 *
 * A measured function does a batch of work per call and returns how many
 * operations it did. Batches keep the harness's own call (shared by every
 * benchmark, so megamorphic) out of the per-operation cost.
 */

/** Where reports go (`process.stdout`, or a string collector in tests). */
export interface TextSink {
  write(text: string): unknown;
}

export interface MeasureOptions {
  /** Time budget for the measured rounds, in seconds (warm-up not included). @default 1 */
  seconds?: number;
  /** Number of rounds; the median round is reported. @default 5 */
  rounds?: number;
  /** Warm-up time in seconds, so the code is optimised before timing. @default 20% of `seconds`, in [0.05, 0.5] */
  warmupSeconds?: number;
}

export interface Measurement {
  /** Median of the rounds' operations per second. */
  opsPerSec: number;
  /** Every round's operations per second, in the order run. */
  rounds: number[];
}

export const MEASURE_DEFAULTS: Readonly<{ seconds: number; rounds: number }> = Object.freeze({ seconds: 1, rounds: 5 });

function resolveMeasureOptions(o: MeasureOptions): { seconds: number; rounds: number; warmupSeconds: number } {
  const seconds = o.seconds ?? MEASURE_DEFAULTS.seconds;
  const rounds = o.rounds ?? MEASURE_DEFAULTS.rounds;
  if (!Number.isFinite(seconds) || seconds <= 0) throw new RangeError(`seconds must be a positive number, got ${seconds}`);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) throw new RangeError(`rounds must be an integer in [1, 1000], got ${rounds}`);
  const warmupSeconds = o.warmupSeconds ?? Math.min(0.5, Math.max(0.05, seconds * 0.2));
  if (!Number.isFinite(warmupSeconds) || warmupSeconds < 0) throw new RangeError(`warmupSeconds must be a number >= 0, got ${warmupSeconds}`);
  return { seconds, rounds, warmupSeconds };
}

/**
 * Which clock times a round. `cpu`: this process's CPU time (user + system),
 * so other processes competing for the cores do not count against the code
 * measured (GC threads of this process do). `wall`: elapsed time.
 */
export const CLOCKS = {
  cpu: (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  },
  wall: (): number => Number(process.hrtime.bigint()) / 1e9,
} as const;
export type ClockName = keyof typeof CLOCKS;

/** Clock of `measure`, set once per run (`--clock`). */
let clock: () => number = CLOCKS.cpu;
let clockName: ClockName = 'cpu';
export function setClock(name: ClockName): void {
  clock = CLOCKS[name];
  clockName = name;
}
export function currentClock(): ClockName {
  return clockName;
}

/** Call `batch` until `seconds` have passed; returns [ops, elapsed seconds]. */
function runFor(batch: () => number, seconds: number): [number, number] {
  const now = clock;
  const t0 = now();
  let ops = 0;
  let t = t0;
  // At least one call, so a budget shorter than one batch still measures something.
  do {
    ops += batch();
    t = now();
  } while (t - t0 < seconds);
  return [ops, t - t0];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Measure `batch` (returns the operations it did) and report median ops/s. */
export function measure(batch: () => number, options: MeasureOptions = {}): Measurement {
  const o = resolveMeasureOptions(options);
  if (o.warmupSeconds > 0) runFor(batch, o.warmupSeconds);
  const rounds: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const [ops, dt] = runFor(batch, o.seconds / o.rounds);
    rounds.push(ops / dt);
  }
  return { opsPerSec: median(rounds), rounds };
}

/**
 * Measure several batches with their rounds interleaved (a round of each in
 * turn), so a change in machine load affects all of them alike and ratios
 * between them stay meaningful. `seconds` is per batch.
 */
export function measureInterleaved<K extends string>(batches: Readonly<Record<K, () => number>>, options: MeasureOptions = {}): Record<K, Measurement> {
  const o = resolveMeasureOptions(options);
  const names = Object.keys(batches) as K[];
  if (o.warmupSeconds > 0) for (const k of names) runFor(batches[k], o.warmupSeconds);
  const rounds = new Map<K, number[]>(names.map((k) => [k, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const k of names) {
      const [ops, dt] = runFor(batches[k], o.seconds / o.rounds);
      rounds.get(k)!.push(ops / dt);
    }
  }
  const out = {} as Record<K, Measurement>;
  for (const k of names) {
    const rs = rounds.get(k)!;
    out[k] = { opsPerSec: median(rs), rounds: rs };
  }
  return out;
}

// ---------------------------------------------------------------- reporting

export interface BenchResult {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  /**
   * A metric of the same bench (reported earlier or later) this one is
   * compared with: the table shows value / baseline, JSON adds a ratio metric.
   */
  baseline?: string;
  /** Name of that ratio metric. @default `${metric}_vs_${baseline}` */
  ratioMetric?: string;
}

/** One JSON line: what `--json` prints. Ratios are metrics with unit "ratio". */
export interface JsonRecord {
  bench: string;
  metric: string;
  /** null for a case that failed (unit "failed") or was skipped (unit "skipped"); `error` says why. */
  value: number | null;
  unit: string;
  error?: string;
}

/** A case that could not be measured: reported as a row, never as a stack trace. */
export interface BenchFailure {
  bench: string;
  metric: string;
  /** One line: what went wrong. */
  reason: string;
}

export interface ReporterOptions {
  /** Print one JSON object per line instead of a table. @default false */
  json?: boolean;
  /** Results (table or JSON lines). */
  out: TextSink;
  /** Notes and progress; in JSON mode notes go here so `out` stays parseable. @default out */
  err?: TextSink;
}

interface RatioSpec {
  bench: string;
  metric: string;
  numerator: string;
  denominator: string;
}

/**
 * Collects results. JSON mode writes each line as soon as it is known; table
 * mode prints one table per bench at `endBench()` (so ratios against a
 * baseline measured later still fill in).
 */
export class Reporter {
  readonly #json: boolean;
  readonly #out: TextSink;
  readonly #err: TextSink;
  readonly #values = new Map<string, BenchResult>();
  #pending: Array<BenchResult & { failure?: string }> = [];
  readonly #failures: BenchFailure[] = [];
  #ratios: RatioSpec[] = [];
  readonly #emittedRatios = new Set<string>();

  constructor(options: ReporterOptions) {
    this.#json = options.json ?? false;
    this.#out = options.out;
    this.#err = options.err ?? options.out;
  }

  get json(): boolean {
    return this.#json;
  }

  /** Free text about a bench (implementation choice, sizes). Not a result. */
  note(text: string): void {
    (this.#json ? this.#err : this.#out).write(text + '\n');
  }

  /** Progress text, always on the error sink. */
  progress(text: string): void {
    this.#err.write(text + '\n');
  }

  /**
   * Run a long phase with progress: `label ...` now, `label: still running
   * (N s)` every `everyMs` of wall time while it runs (the timer does not
   * keep the process alive), `label: done in N s` at the end, or `label:
   * failed after N s` (the error is rethrown).
   */
  async phase<T>(label: string, work: () => Promise<T> | T, everyMs = 5000): Promise<T> {
    const t0 = Date.now();
    const secs = (): string => ((Date.now() - t0) / 1000).toFixed(1);
    this.progress(`${label} ...`);
    const timer = setInterval(() => this.progress(`${label}: still running (${secs()} s)`), everyMs);
    timer.unref();
    try {
      const r = await work();
      this.progress(`${label}: done in ${secs()} s`);
      return r;
    } catch (err) {
      this.progress(`${label}: failed after ${secs()} s`);
      throw err;
    } finally {
      clearInterval(timer);
    }
  }

  /** A case that failed: a row with the reason (table) or a record with value null and unit "failed" (JSON). */
  failed(f: BenchFailure): void {
    this.#failures.push(f);
    this.#pending.push({ bench: f.bench, metric: f.metric, value: NaN, unit: 'failed', failure: f.reason });
    if (this.#json) this.#write({ bench: f.bench, metric: f.metric, value: null, unit: 'failed', error: f.reason });
  }

  /**
   * A case that could not run here for a stated reason that is no failure
   * (an optional baseline is not built): a row "skipped" with the reason
   * (table) or a record with value null and unit "skipped" (JSON). The
   * runner's exit status is not affected.
   */
  skipped(f: BenchFailure): void {
    this.#pending.push({ bench: f.bench, metric: f.metric, value: NaN, unit: 'skipped', failure: f.reason });
    if (this.#json) this.#write({ bench: f.bench, metric: f.metric, value: null, unit: 'skipped', error: f.reason });
  }

  /** Every failure reported so far (the runner exits 1 if there are any). */
  get failures(): readonly BenchFailure[] {
    return this.#failures;
  }

  result(r: BenchResult): void {
    this.#values.set(`${r.bench}\0${r.metric}`, r);
    this.#pending.push(r);
    if (r.baseline !== undefined) {
      this.#ratios.push({ bench: r.bench, metric: r.ratioMetric ?? `${r.metric}_vs_${r.baseline}`, numerator: r.metric, denominator: r.baseline });
    }
    if (this.#json) {
      this.#write({ bench: r.bench, metric: r.metric, value: r.value, unit: r.unit });
      this.#emitRatios(false);
    }
  }

  /** A ratio of two metrics of `bench` (value of `numerator` / value of `denominator`), as its own metric. */
  ratio(bench: string, metric: string, numerator: string, denominator: string): void {
    this.#ratios.push({ bench, metric, numerator, denominator });
    if (this.#json) this.#emitRatios(false);
  }

  /** The value of a metric already reported, if any. */
  value(bench: string, metric: string): number | undefined {
    return this.#values.get(`${bench}\0${metric}`)?.value;
  }

  /** Finish the current bench: print its table (table mode) or any ratios still due (JSON). */
  endBench(): void {
    if (this.#json) {
      this.#emitRatios(true);
    } else {
      this.#printTable();
    }
    this.#pending = [];
    this.#ratios = [];
  }

  #ratioValue(s: RatioSpec): number | undefined {
    const n = this.value(s.bench, s.numerator);
    const d = this.value(s.bench, s.denominator);
    return n === undefined || d === undefined ? undefined : n / d;
  }

  #emitRatios(final: boolean): void {
    for (const s of this.#ratios) {
      const key = `${s.bench}\0${s.metric}`;
      if (this.#emittedRatios.has(key)) continue;
      const v = this.#ratioValue(s);
      if (v === undefined) {
        if (final) this.#err.write(`${s.bench}: ratio ${s.metric} skipped: ${s.denominator} or ${s.numerator} was not measured\n`);
        continue;
      }
      this.#emittedRatios.add(key);
      this.#write({ bench: s.bench, metric: s.metric, value: v, unit: 'ratio' });
    }
  }

  #write(rec: JsonRecord): void {
    this.#out.write(JSON.stringify(rec) + '\n');
  }

  #printTable(): void {
    const rows: string[][] = [['bench', 'metric', 'value', 'unit', 'ratio']];
    for (const r of this.#pending) {
      if (r.failure !== undefined) {
        rows.push([r.bench, r.metric, r.unit === 'skipped' ? 'skipped' : 'FAILED', '', r.failure]);
        continue;
      }
      let ratio = '';
      if (r.baseline !== undefined) {
        const d = this.value(r.bench, r.baseline);
        ratio = d === undefined ? '?' : `${formatNumber(r.value / d)}x ${r.baseline}`;
      }
      rows.push([r.bench, r.metric, formatNumber(r.value), r.unit, ratio]);
    }
    // Explicit ratios (not attached to a row) get rows of their own.
    for (const s of this.#ratios) {
      if (this.#pending.some((r) => r.baseline === s.denominator && r.metric === s.numerator)) continue;
      const v = this.#ratioValue(s);
      rows.push([s.bench, s.metric, v === undefined ? '?' : formatNumber(v), 'ratio', `${s.numerator} / ${s.denominator}`]);
    }
    if (rows.length === 1) return;
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
    const right = [false, false, true, false, false];
    for (const row of rows) {
      const cells = row.map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)));
      this.#out.write(cells.join('  ').trimEnd() + '\n');
    }
  }
}

/** An error as one line for a failed row: its message's first line (no stack). */
export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.trim() || (err instanceof Error ? err.name : 'error');
}

/** 4 significant digits, thousands grouped: 12,340,000 / 3.142 / 0.0123. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a === 0) return '0';
  return Number(v.toPrecision(4)).toString();
}

// ---------------------------------------------------------------- benchmark modules

/** What a benchmark module's `run` gets. */
export interface BenchContext {
  reporter: Reporter;
  /** Measured time per measurement, in seconds. */
  seconds: number;
}

/** A benchmark module: `bench/<name>.ts` exporting `run`. */
export interface BenchModule {
  run(ctx: BenchContext): Promise<void> | void;
}

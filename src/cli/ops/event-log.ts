/**
 * The relay's log: every line a record with a time, a level, the node name,
 * an event name and fields; written as text (the default) or as one JSON
 * object per line (`--log json`), filtered by `--log-level`.
 *
 * The library logs free text (one line per link, dial and span event); a
 * pure rule table (`classifyLine`) names each line's event and level and
 * lifts its fields (link id, peer, service ...), so the library stays free of
 * any logging framework.
 *
 * Text:  `2026-01-01T00:00:00.000Z info  [edge-1] link c1 up`
 * JSON:  `{"time":"2026-01-01T00:00:00.000Z","level":"info","node":"edge-1","event":"link.up","msg":"link c1 up","conn":"c1"}`
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogRecord {
  time: string;
  level: LogLevel;
  node: string;
  event: string;
  msg: string;
  [field: string]: string | number;
}

export interface Classified {
  level: LogLevel;
  event: string;
  fields: Record<string, string | number>;
}

interface Rule {
  readonly re: RegExp;
  readonly event: string;
  readonly level: LogLevel;
  /** Capture group names become fields; numeric-looking groups listed here become numbers. */
  readonly numbers?: readonly string[];
}

/** First match wins. Named groups become fields. */
const RULES: readonly Rule[] = [
  { re: /^link (?<conn>c\d+): protocol error (?<code>[A-Z_]+)/, event: 'protocol.error', level: 'warn' },
  { re: /^link (?<conn>c\d+): keepalive lost/, event: 'keepalive.lost', level: 'warn' },
  { re: /^link (?<conn>c\d+) up$/, event: 'link.up', level: 'info' },
  { re: /^link (?<conn>c\d+) down(?: \((?<peer>[^)]*)\))?: (?<reason>closed|peer-closed)$/, event: 'link.down', level: 'info' },
  { re: /^link (?<conn>c\d+) down(?: \((?<peer>[^)]*)\))?: /, event: 'link.down', level: 'warn' },
  { re: /^link (?<conn>c\d+): peer (?<peer>\S+)(?: (?<peerNode>[0-9a-f-]{36}))? connected$/, event: 'link.conn', level: 'info' },
  { re: /^link (?<conn>c\d+): peer key (?<key>\S+) verified$/, event: 'link.auth', level: 'info' },
  { re: /^link (?<conn>c\d+): refused/, event: 'link.refused', level: 'warn' },
  { re: /^link (?<conn>c\d+): (?:bad|cannot)/, event: 'link.error', level: 'warn' },
  { re: /^link to (?<target>\S+) closed; redialling/, event: 'dial.lost', level: 'info' },
  { re: /^(?<what>accepted|connected) (?:from|on|to|tls from) (?<from>\S+?)(?: \(connection (?<connection>\d+)\))?: link (?<conn>c\d+)$/, event: 'link.attach', level: 'info', numbers: ['connection'] },
  { re: /^span (?<type>up|down|changed) (?<service>[^/\s]+)\/(?<instance>\S+)(?: dist=(?<dist>-?\d+))?(?: via=(?<via>\S+))?$/, event: 'span', level: 'info', numbers: ['dist'] },
  { re: /^advertise (?<service>[^/\s]+)\/(?<instance>\S+)$/, event: 'span.advertise', level: 'info' },
  { re: /^withdraw (?<service>[^/\s]+)\/(?<instance>\S+)$/, event: 'span.withdraw', level: 'info' },
  { re: /^listening (?<address>\S+)$/, event: 'listening', level: 'info' },
  { re: /^metrics on (?<url>\S+)$/, event: 'metrics.listening', level: 'info' },
  { re: /^dialing (?<target>\S+)$/, event: 'dial', level: 'info' },
  { re: /^dial (?<target>\S+) failed \((?<failures>\d+) in a row\).*retry in (?<retryMs>\d+) ms$/, event: 'dial.failed', level: 'warn', numbers: ['failures', 'retryMs'] },
  { re: /^disconnect (?<target>\S+)/, event: 'dial.stop', level: 'info' },
  { re: /^listener (?<address>\S+): /, event: 'listener.error', level: 'error' },
  { re: /link shed|subscriber threw|unexpected exception/, event: 'link.error', level: 'warn' },
  { re: /^node key |^peers must prove|^peers are not verified|^links run open/, event: 'auth.config', level: 'info' },
  { re: /withdrawing spans, closing links$/, event: 'shutdown', level: 'info' },
  { re: /^stopped$/, event: 'stopped', level: 'info' },
];

/** Name a library log line's event and level, and lift its fields. Pure. */
export function classifyLine(line: string): Classified {
  for (const r of RULES) {
    const m = r.re.exec(line);
    if (!m) continue;
    const fields: Record<string, string | number> = {};
    for (const [k, v] of Object.entries(m.groups ?? {})) {
      if (v === undefined) continue;
      fields[k] = r.numbers?.includes(k) ? Number(v) : v;
    }
    const event = r.event === 'span' ? `span.${fields['type']}` : r.event;
    if (r.event === 'span') delete fields['type'];
    return { level: r.level, event, fields };
  }
  return { level: 'info', event: 'log', fields: {} };
}

export interface EventLogOptions {
  /** Node name on every line. */
  node: string;
  /** @default 'text' */
  format?: LogFormat;
  /** Lines below this level are dropped. @default 'info' */
  level?: LogLevel;
  /** Where each line goes (with its newline). */
  write: (text: string) => void;
  /** Wall clock for the time stamp. @default Date.now */
  now?: () => number;
  /**
   * Bytes written and not yet taken by the log's reader (for a pipe:
   * `process.stderr.writableLength`). @default none: nothing is ever dropped
   */
  backlog?: () => number;
  /**
   * Past this backlog, routine lines (info and debug records of span events
   * and unclassified library lines, which a peer can cause thousands of)
   * are dropped; past 8 times it, every line is. A summary line says how
   * many once the backlog is under this again. @default 262144
   */
  maxBacklogBytes?: number;
}

/** Default EventLogOptions.maxBacklogBytes. */
export const DEFAULT_MAX_LOG_BACKLOG_BYTES = 256 * 1024;
/** Past maxBacklogBytes times this, every line is dropped, not only routine ones. */
const HARD_BACKLOG_FACTOR = 8;

/** A line a peer's churn can repeat without bound (span events, unclassified lines), below warn. Pure. */
export function isRoutine(level: LogLevel, event: string): boolean {
  return RANK[level] < RANK.warn && (event === 'log' || event === 'span' || event.startsWith('span.'));
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export class EventLog {
  readonly #node: string;
  readonly #format: LogFormat;
  readonly #min: number;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #backlog: (() => number) | undefined;
  readonly #maxBacklog: number;
  #dropped = 0;
  /** Lines dropped so far because the log's reader fell behind. */
  droppedTotal = 0;

  constructor(options: EventLogOptions) {
    const format = options.format ?? 'text';
    const level = options.level ?? 'info';
    if (!(LOG_FORMATS as readonly string[]).includes(format)) throw new RangeError(`log format must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new RangeError(`log level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
    this.#node = options.node;
    this.#format = format;
    this.#min = RANK[level];
    this.#write = options.write;
    this.#now = options.now ?? Date.now;
    const max = options.maxBacklogBytes ?? DEFAULT_MAX_LOG_BACKLOG_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxBacklogBytes must be a positive integer, got ${JSON.stringify(max)}`);
    this.#backlog = options.backlog;
    this.#maxBacklog = max;
  }

  /** True if records of `level` are written (check before building an expensive message). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min;
  }

  /**
   * A library text line: its `[router-name] ` prefix (if any) gives the node,
   * the rule table gives the event, level and fields.
   */
  line(text: string): void {
    let node = this.#node;
    let msg = text;
    const m = /^\[([^\]]+)\] /.exec(text);
    if (m) {
      node = m[1]!;
      msg = text.slice(m[0].length);
    }
    const c = classifyLine(msg);
    this.#emit(c.level, c.event, msg, c.fields, node);
  }

  /** A structured record. */
  event(level: LogLevel, event: string, msg: string, fields: Record<string, string | number> = {}): void {
    this.#emit(level, event, msg, fields, this.#node);
  }

  #emit(level: LogLevel, event: string, msg: string, fields: Record<string, string | number>, node: string): void {
    if (RANK[level] < this.#min) return;
    if (this.#backlog !== undefined && !this.#roomFor(level, event)) return;
    this.#write(this.#render(level, event, msg, fields, node));
  }

  /**
   * Bound what waits in memory for a slow log reader (a relay's stderr
   * piped to a busy process): a peer churning spans makes thousands of
   * lines a second, and an asynchronous pipe would queue them all.
   */
  #roomFor(level: LogLevel, event: string): boolean {
    const backlog = this.#backlog!();
    if (backlog > this.#maxBacklog * HARD_BACKLOG_FACTOR || (backlog > this.#maxBacklog && isRoutine(level, event))) {
      this.#dropped++;
      this.droppedTotal++;
      return false;
    }
    if (this.#dropped > 0 && backlog <= this.#maxBacklog) {
      const n = this.#dropped;
      this.#dropped = 0;
      this.#write(this.#render('warn', 'log.dropped', `${n} log lines dropped: the log is written faster than it is read`, { dropped: n }, this.#node));
    }
    return true;
  }

  #render(level: LogLevel, event: string, msg: string, fields: Record<string, string | number>, node: string): string {
    const time = new Date(this.#now()).toISOString();
    if (this.#format === 'json') {
      // Fixed keys first; a field never overwrites them.
      const rec: LogRecord = { time, level, node, event, msg };
      for (const [k, v] of Object.entries(fields)) if (!(k in rec)) rec[k] = v;
      return JSON.stringify(rec) + '\n';
    }
    return `${time} ${level.padEnd(5)} [${node}] ${msg}\n`;
  }
}

/**
 * The Prometheus text exposition format (version 0.0.4), written by hand:
 * a metric family is a name, a help line, a type and samples; this module
 * turns families into the text `/metrics` serves. Pure: no I/O, no state.
 *
 * Why not prom-client: its registry keeps its own counters, so every hot-path
 * increment would have to go through it (or be mirrored into it on scrape with
 * `collect()` callbacks, which is what this module does with less machinery).
 * The figures here are plain numbers the library already keeps and are only
 * read when scraped.
 */

/** Label names and values of one sample. */
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  /** Labels of this sample. @default none */
  readonly labels?: Labels;
  readonly value: number;
}

export type MetricType = 'counter' | 'gauge';

export interface MetricFamily {
  /** Metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`; counters end in `_total`. */
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Escape a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escape a HELP text: backslash and newline. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as the format writes it (`+Inf`, `-Inf`, `NaN`). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * Families as exposition text. A family with an invalid name or label name
 * is a programming error: it throws (a collector is code, not peer input).
 * Families with the same name are merged (their samples concatenated) so that
 * collectors may contribute to one family.
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const merged = new Map<string, { help: string; type: MetricType; samples: Sample[] }>();
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`metric name ${JSON.stringify(f.name)} is not valid`);
    const m = merged.get(f.name);
    if (m) {
      if (m.type !== f.type) throw new Error(`metric ${f.name} registered as ${m.type} and ${f.type}`);
      m.samples.push(...f.samples);
    } else merged.set(f.name, { help: f.help, type: f.type, samples: [...f.samples] });
  }
  const out: string[] = [];
  for (const [name, f] of merged) {
    out.push(`# HELP ${name} ${escapeHelp(f.help)}`);
    out.push(`# TYPE ${name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels ? Object.entries(s.labels) : [];
      let text = name;
      if (labels.length > 0) {
        for (const [k] of labels) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`label name ${JSON.stringify(k)} of ${name} is not valid`);
        text += '{' + labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',') + '}';
      }
      out.push(`${text} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

/** The content type of the text format. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * A collect-on-scrape metrics registry: collectors are functions that read
 * figures the library already keeps (plain numbers on the hot path) and
 * return metric families when `/metrics` or `/stats.json` is requested.
 * Nothing is counted through the registry itself, so it costs nothing
 * between scrapes.
 *
 * A service adds its own figures with `register()`:
 *
 *   registry.register('dlm', () => [{ name: 'dmsg_dlm_grants_total', help: 'locks granted', type: 'counter',
 *     samples: [{ value: lockspace.stats().grants }] }]);
 */
import type { MetricFamily } from './exposition.ts';
import { renderExposition } from './exposition.ts';

export type Collector = () => readonly MetricFamily[];

export class MetricsRegistry {
  readonly #collectors = new Map<string, Collector>();
  /** How many collectors threw during collect() since start (each such scrape skips that collector). */
  collectorErrors = 0;

  /**
   * Add a collector under a unique name; returns a function that removes it.
   * Throws if the name is taken.
   */
  register(name: string, collector: Collector): () => void {
    if (this.#collectors.has(name)) throw new Error(`metrics collector ${JSON.stringify(name)} is already registered`);
    this.#collectors.set(name, collector);
    return () => {
      if (this.#collectors.get(name) === collector) this.#collectors.delete(name);
    };
  }

  /** Collector names, in registration order. */
  get names(): string[] {
    return [...this.#collectors.keys()];
  }

  /** Every collector's families. A collector that throws is skipped (and counted), never fails the scrape. */
  collect(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const c of this.#collectors.values()) {
      try {
        out.push(...c());
      } catch {
        this.collectorErrors++;
      }
    }
    out.push({ name: 'dmsg_metrics_collector_errors_total', help: 'Collectors that threw while being scraped.', type: 'counter', samples: [{ value: this.collectorErrors }] });
    return out;
  }

  /** The Prometheus text of every collector. */
  render(): string {
    return renderExposition(this.collect());
  }
}

/**
 * Echo traffic through the mesh while faults happen: each source client
 * opens one transaction at a time to one service instance, sends a numbered
 * message and waits for its echo. Counts what was sent, delivered, lost (the
 * transaction failed, or ended without the echo) and duplicated (an echo of
 * a number seen before), and what could not be sent for want of a route.
 */
import { lastValueFrom, toArray } from 'rxjs';
import type { Router } from '../../src/span/router.ts';
import { DMSG } from '../../src/wire/constants.ts';

/** Counters of one traffic run, or of a window of it. */
export interface TrafficCounts {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Ticks where the client knew no span for the target. */
  unroutable: number;
}

export const zeroCounts = (): TrafficCounts => ({ sent: 0, delivered: 0, lost: 0, duplicated: 0, unroutable: 0 });

export function diffCounts(a: TrafficCounts, b: TrafficCounts): TrafficCounts {
  return { sent: b.sent - a.sent, delivered: b.delivered - a.delivered, lost: b.lost - a.lost, duplicated: b.duplicated - a.duplicated, unroutable: b.unroutable - a.unroutable };
}

export interface TrafficOptions {
  /** Service name of the target. */
  service: string;
  /** Instance of the target. */
  instance: string;
  /** Pause between transactions of one client, ms. @default 100 */
  intervalMs?: number;
  /** A transaction without an answer by then counts as lost, ms. @default 20000 */
  txTimeoutMs?: number;
}

/** One client's loop; stop() ends it after the transaction in flight. */
export class EchoTraffic {
  readonly counts = zeroCounts();
  #seen = new Set<number>();
  #seq = 0;
  #stopped = false;
  #done: Promise<void>;

  readonly client: Router;
  readonly opts: TrafficOptions;

  constructor(client: Router, opts: TrafficOptions) {
    this.client = client;
    this.opts = opts;
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    const interval = this.opts.intervalMs ?? 100;
    while (!this.#stopped) {
      await this.#one();
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  async #one(): Promise<void> {
    const span = this.client.spans(this.opts.service).find((s) => s.instance === this.opts.instance);
    if (!span) {
      this.counts.unroutable++;
      return;
    }
    const seq = ++this.#seq;
    this.counts.sent++;
    const text = `seq ${seq}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const tx = this.client.open(span, DMSG.DBG_SHELL, { aux: new TextEncoder().encode(text), delete: true });
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), this.opts.txTimeoutMs ?? 20_000); });
      const msgs = await Promise.race([lastValueFrom(tx.rx$.pipe(toArray())), timeout]);
      const echoes = msgs.filter((m) => m.aux.length > 0).map((m) => new TextDecoder().decode(m.aux));
      let got = false;
      for (const e of echoes) {
        const n = Number(e.slice(4));
        if (!e.startsWith('seq ') || !Number.isInteger(n)) continue;
        if (this.#seen.has(n)) this.counts.duplicated++;
        else this.#seen.add(n);
        if (n === seq) got = true;
      }
      if (got) this.counts.delivered++;
      else this.counts.lost++;
    } catch {
      this.counts.lost++;
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

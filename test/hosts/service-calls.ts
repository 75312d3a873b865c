/**
 * A client calling a service by name through the mesh, over and over (one
 * call at a time, `intervalMs` apart): each call opens a transaction to the
 * nearest instance the client knows (`router.open(service, ...)`), sends a
 * numbered text and waits for the answer. Every call is recorded with its
 * start and end time and who answered it, so a scenario can say when a
 * moved service was found again and where every later call went.
 */
import { lastValueFrom, toArray } from 'rxjs';
import type { Router } from '../../src/span/router.ts';
import { DMSG } from '../../src/wire/constants.ts';
import { parseAnswer } from './service-program.ts';

/** How one call ended. */
export type CallOutcome = 'answered' | 'noroute' | 'lost';

/** One call. */
export interface CallRecord {
  readonly seq: number;
  /** Date.now() at the open and at the end. */
  readonly start: number;
  readonly end: number;
  readonly outcome: CallOutcome;
  /** The host that answered (answered calls only). */
  readonly by: string | null;
  /** Answers to this call beyond the first. */
  readonly extraAnswers: number;
}

export interface CallLoopOptions {
  /** Pause between calls, ms. @default 50 */
  intervalMs?: number;
  /** A call without its answer by then is lost, ms (a safety net; calls normally end in ms). @default 5000 */
  callTimeoutMs?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One client's call loop; stop() ends it after the call in flight. */
export class CallLoop {
  readonly client: Router;
  readonly service: string;
  readonly calls: CallRecord[] = [];
  readonly #interval: number;
  readonly #timeout: number;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(client: Router, service: string, opts: CallLoopOptions = {}) {
    this.client = client;
    this.service = service;
    this.#interval = opts.intervalMs ?? 50;
    this.#timeout = opts.callTimeoutMs ?? 5000;
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      this.calls.push(await this.#one(this.calls.length + 1));
      await new Promise((r) => setTimeout(r, this.#interval));
    }
  }

  async #one(seq: number): Promise<CallRecord> {
    const start = Date.now();
    const text = `call ${seq}`;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      let tx;
      try {
        tx = this.client.open(this.service, DMSG.DBG_SHELL, { aux: enc.encode(text), delete: true });
      } catch {
        return { seq, start, end: Date.now(), outcome: 'noroute', by: null, extraAnswers: 0 };
      }
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timeout')), this.#timeout); });
      const msgs = await Promise.race([lastValueFrom(tx.rx$.pipe(toArray())), timeout]);
      const answers = msgs.filter((m) => m.aux.length > 0).map((m) => parseAnswer(dec.decode(m.aux))).filter((a) => a !== null && a.text === text);
      const by = answers[0]?.host ?? null;
      return { seq, start, end: Date.now(), outcome: by === null ? 'lost' : 'answered', by, extraAnswers: Math.max(0, answers.length - 1) };
    } catch {
      return { seq, start, end: Date.now(), outcome: 'lost', by: null, extraAnswers: 0 };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once a call that started at or after `since` was answered by `host` (rejects after safetyMs). */
  async answeredBy(host: string, since: number, safetyMs: number): Promise<CallRecord> {
    const deadline = Date.now() + safetyMs;
    for (;;) {
      const c = this.calls.find((x) => x.start >= since && x.by === host);
      if (c) return c;
      if (Date.now() > deadline) throw new Error(`${this.client.name}: no call to ${this.service} answered by ${host} within ${safetyMs} ms`);
      await new Promise((r) => setTimeout(r, this.#interval));
    }
  }

  /** Resolves once `n` calls that started at or after `since` have ended. */
  async callsSince(since: number, n: number, safetyMs: number): Promise<void> {
    const deadline = Date.now() + safetyMs;
    while (this.calls.filter((x) => x.start >= since).length < n) {
      if (Date.now() > deadline) throw new Error(`${this.client.name}: fewer than ${n} calls since ${since} within ${safetyMs} ms`);
      await new Promise((r) => setTimeout(r, this.#interval));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

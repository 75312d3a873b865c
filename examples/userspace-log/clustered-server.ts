/**
 * The log server clustered across nodes with the DLM: every node that may
 * serve the log queues for an EX lock on `ulog-server:<service>`; only the
 * holder serves (advertises the span). When the active server stops
 * cleanly it withdraws its span and unlocks; the next node in the queue is
 * granted EX and starts serving, on the same log store.
 *
 * A server whose node dies while holding EX is replaced once the survivors'
 * DLM recovery (the membership manager's stop() then start(survivors))
 * purges the dead node's lock: the next queued node is granted EX in the
 * recovery grant pass and serves (docs/users.md). A server cut off rather
 * than dead still believes it holds EX; its lock's fencing token is below
 * the new holder's, which the store has seen, so the store refuses it and
 * it withdraws its service (LogServerOptions.token).
 */
import type { DlmLock, DlmLockspace, Router } from 'dmsg-mesh';
import { LogServer, ULOG_SERVICE, type LogServerOptions } from './log-server.ts';

export class ClusteredLogServer {
  readonly router: Router;
  readonly #ls: DlmLockspace;
  readonly #opts: LogServerOptions;
  #lock: DlmLock | null = null;
  #server: LogServer | null = null;
  #abort = new AbortController();

  constructor(router: Router, ls: DlmLockspace, options: LogServerOptions) {
    this.router = router;
    this.#ls = ls;
    this.#opts = options;
  }

  get resource(): string {
    return `ulog-server:${this.#opts.service ?? ULOG_SERVICE}`;
  }

  /** Serving now (holds EX). */
  get active(): boolean {
    return this.#server !== null;
  }

  get server(): LogServer | null {
    return this.#server;
  }

  /** Queue for EX; resolves once this node serves. Rejects (ECANCEL) if stopped first. */
  async start(): Promise<LogServer> {
    const lk = await this.#ls.lock(this.resource, 'EX', { signal: this.#abort.signal });
    this.#lock = lk;
    // Raise the store's fencing mark now: a previous holder that lost the lock
    // without knowing is refused by the store from its next request on.
    this.#opts.store.admit(lk.fence);
    this.#server = new LogServer(this.router, { ...this.#opts, token: () => lk.fence });
    return this.#server;
  }

  /** Stop serving (withdraw the span) and release EX, or leave the queue. */
  async stop(): Promise<void> {
    this.#server?.close();
    this.#server = null;
    this.#abort.abort();
    const lk = this.#lock;
    this.#lock = null;
    if (lk) await lk.unlock();
  }
}

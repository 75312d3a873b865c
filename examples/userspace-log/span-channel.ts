/**
 * The kernel's connector to the log server, over the mesh: one transaction
 * to the nearest `ulog` instance, opened on the first send and reopened
 * after it ends (the server went away); requests go out as messages on it,
 * replies come back on it. Like netlink it is unreliable: what was in
 * flight when the server went away is lost, and the client's timeout
 * resends it. A send with no reachable server fails with ENOENT.
 */
import type { Router, Transaction } from 'dmsg-mesh';
import type { UlogChannel } from './client.ts';
import { ULOG_CMD, ULOG_SERVICE } from './log-server.ts';
import { ERRNO } from './request.ts';

export class SpanChannel implements UlogChannel {
  readonly #router: Router;
  readonly #service: string;
  #tx: Transaction | null = null;
  #receiver: (bytes: Uint8Array) => void = () => {};
  /** Transactions opened so far (1 + reconnections). */
  opened = 0;

  constructor(router: Router, service = ULOG_SERVICE) {
    this.#router = router;
    this.#service = service;
  }

  onReply(fn: (bytes: Uint8Array) => void): void {
    this.#receiver = fn;
  }

  send(bytes: Uint8Array): number {
    const tx = this.#tx;
    if (tx && tx.canSend) {
      tx.send(ULOG_CMD, { aux: bytes });
      return 0;
    }
    if (this.#router.spans(this.#service).length === 0) return ERRNO.ENOENT;
    let t: Transaction;
    try {
      t = this.#router.open(this.#service, ULOG_CMD, { aux: bytes });
    } catch {
      return ERRNO.ENOENT;
    }
    this.opened++;
    this.#tx = t;
    const drop = (): void => {
      if (this.#tx === t) this.#tx = null;
    };
    t.rx$.subscribe({ next: (m) => m.aux.length > 0 && this.#receiver(m.aux), complete: drop, error: drop });
    return 0;
  }

  close(): void {
    const tx = this.#tx;
    this.#tx = null;
    if (tx && !tx.freed) tx.close();
  }
}

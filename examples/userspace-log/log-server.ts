/**
 * The userspace log server as a service over a span: `router.serve('ulog')`;
 * every transaction opened on it is one kernel connection; each message on
 * it carries one request (`dm_ulog_request` in aux) and is answered with one
 * message carrying the reply (same header, `error`, the reply data). A fault
 * hook lets tests drop, hold or EAGAIN a reply.
 */
import type { Router, Service, Transaction } from 'dmsg-mesh';
import { svcCmd } from 'dmsg-mesh';
import { handleRequest, type LogStore } from './region-log.ts';
import { ERRNO, decodeRequest, encodeRequest, type UlogRequest } from './request.ts';

/** The cmd word of a userspace-log message (examples range, SVC code 0x710). */
export const ULOG_CMD = svcCmd(0x710);
/** The default service name. */
export const ULOG_SERVICE = 'ulog';

/** What to do with a reply: send it, drop it (lost), hold it (the test releases it later) or answer EAGAIN instead. */
export type ReplyFate = 'send' | 'drop' | 'hold' | 'eagain';

export interface LogServerOptions {
  store: LogStore;
  service?: string;
  fault?: (req: UlogRequest) => ReplyFate;
  /**
   * The fencing token of the DLM lock this server serves under
   * (ClusteredLogServer passes its EX lock's `fence`). Every request first
   * checks it against the store (`LogStore.admit`); below the store's
   * highest token the server has lost its lock without knowing: the
   * request is not answered (the client's timeout resends it) and the
   * server withdraws its service (`stats.fenced`). @default no check
   */
  token?: () => number;
}

export class LogServer {
  readonly router: Router;
  readonly #svc: Service;
  readonly #opts: LogServerOptions;
  readonly #held: Array<() => void> = [];
  /** Requests answered, dropped, held, malformed; refused for a stale fencing token. */
  readonly stats = { answered: 0, dropped: 0, held: 0, malformed: 0, fenced: 0 };
  #closed = false;

  constructor(router: Router, options: LogServerOptions) {
    this.router = router;
    this.#opts = options;
    this.#svc = router.serve(options.service ?? ULOG_SERVICE, (tx) => this.#onTransaction(tx));
  }

  #onTransaction(tx: Transaction): void {
    tx.rx$.subscribe({
      next: (m) => {
        try {
          this.#onRequest(tx, m.aux);
        } catch {
          // A request this server cannot answer costs that request only, never the process.
          this.stats.malformed++;
        }
      },
      complete: () => tx.close(),
      error: () => {},
    });
  }

  #onRequest(tx: Transaction, aux: Uint8Array): void {
    if (aux.length === 0) return;
    const req = decodeRequest(aux);
    if (!req) {
      this.stats.malformed++;
      return;
    }
    if (this.#closed) return;
    if (this.#opts.token && !this.#opts.store.admit(this.#opts.token())) {
      this.stats.fenced++;
      this.close();
      return;
    }
    const fate = this.#opts.fault?.(req) ?? 'send';
    if (fate === 'drop') {
      this.stats.dropped++;
      return;
    }
    const res = fate === 'eagain' ? { error: ERRNO.EAGAIN, data: new Uint8Array(0) } : handleRequest(this.#opts.store, req);
    const send = (): void => {
      if (tx.canSend) tx.send(ULOG_CMD, { aux: encodeRequest({ ...req, error: res.error, data: res.data }) });
    };
    if (fate === 'hold') {
      this.stats.held++;
      this.#held.push(send);
      return;
    }
    this.stats.answered++;
    send();
  }

  /** Send the held replies now (late replies). */
  releaseHeld(): number {
    const h = this.#held.splice(0);
    for (const f of h) f();
    return h.length;
  }

  /** Withdraw the service; open connections end. */
  close(): void {
    this.#closed = true;
    this.#svc.close();
  }
}

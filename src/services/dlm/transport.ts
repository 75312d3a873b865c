/**
 * What the DLM needs from the layer below: ordered, reliable delivery of
 * byte messages between node ids (midcomms gives exactly this). The DLM
 * never sees links, spans or retransmissions.
 */

export interface DlmEndpoint {
  /** This node's id (non-zero u32). */
  readonly nodeid: number;
  /** Queue `bytes` for node `to`; order per destination is preserved. Never throws for a peer's state. */
  send(to: number, bytes: Uint8Array): void;
  /**
   * `send()` copies (or is done with) `bytes` before it returns, so the
   * sender may write its next message into the same buffer: a lockspace
   * then encodes every lock message into one reused buffer (no slab, no
   * ArrayBuffer per message). Leave unset for an endpoint that keeps the
   * bytes it was given (a queue, a simulator's held messages). @default false
   */
  readonly copiesOnSend?: boolean;
  /**
   * The receiver is called only from the event loop (a socket's data, a
   * timer), never inside `send()` or another call the DLM makes. The node
   * then runs the callbacks a received message completes (ASTs, BASTs) at
   * the end of that message's delivery rather than on a later microtask
   * (scheduler.ts; still never inside `lock()`/`unlock()`, §2.6). @default false
   */
  readonly asyncReceive?: boolean;
  /** Where received messages go (`from` is the authenticated sender). */
  setReceiver(receiver: ((from: number, bytes: Uint8Array) => void) | null): void;
}

/** One DLM message as the observer hook sees it (decoded key fields). */
export interface DlmMessageEvent {
  direction: 'send' | 'recv';
  from: number;
  to: number;
  lockspace: string;
  /** 'REQUEST', 'GRANT', ... */
  type: string;
  lkid: number;
  remid: number;
  /** m_nodeid (the master in LOOKUP_REPLY). */
  nodeid: number;
  rqmode: number;
  grmode: number;
  bastmode: number;
  result: number;
  exflags: number;
  sbflags: number;
  /** Resource name for REQUEST/LOOKUP/REMOVE (latin1), else ''. */
  name: string;
}

/**
 * The abstract channel a session runs over: an ordered, bidirectional byte
 * pipe to the peer that may break at any moment (bytes in flight at the
 * break may be lost), like the TCP connection under Linux's midcomms. The
 * router binding makes one from a transaction on the peer's `midcomms`
 * instance; tests use in-memory fakes.
 *
 * Framing contract: every `write()` and every `data()` carries whole frames
 * (one or more, concatenated); a frame never spans two. Over DMSG, one write
 * batch becomes one message's aux (see README, "How frames share a DMSG
 * message").
 */

/** What a session hands the channel's owner, to report the channel's events. */
export interface ChannelSink {
  /** Bytes from the peer: one or more whole frames. */
  data(bytes: Uint8Array): void;
  /** The channel can take more after a `write()` returned false. */
  writable(): void;
  /** The channel ended (cut, closed by the peer, path gone). Idempotent. */
  lost(reason?: string): void;
}

export interface Channel {
  /**
   * Queues whole frames on the channel. Returns false when the channel is
   * past its high-water mark: the bytes are still taken, but the session
   * writes no more data until `writable()`.
   */
  write(bytes: Uint8Array): boolean;
  /** Ends the channel after what was written; the peer sees it lost. No `lost()` is reported back. */
  close(reason?: string): void;
  /**
   * A channel we opened: its random token, written in our HELLO, which the
   * acceptor asks us to prove (`channel-verifier.ts`). Absent: no token.
   */
  readonly token?: Uint8Array;
}

/** Opens channels to one peer. */
export interface ChannelOpener {
  /**
   * Opens a channel to the peer, reporting its events to `sink`. Returns null
   * when there is no path now (the session retries with back-off).
   */
  open(sink: ChannelSink): Channel | null;
  /**
   * The peer takes frames on a channel we open only once it verified that
   * we opened it, and then answers our HELLO: write only the HELLO until
   * that answer, then transmit on it. Absent or false: frames follow the
   * HELLO at once (a refused channel drops them and they go again).
   */
  readonly awaitsReply?: boolean;
}

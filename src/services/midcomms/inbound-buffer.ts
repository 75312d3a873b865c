/**
 * What a session received in sequence but has not yet handed to its reader,
 * bounded in messages and bytes. Sequenced entries in here are not yet
 * acknowledged, so a reader that stops reading stops the sender (its window
 * fills) instead of growing this buffer.
 */

export type InboundEntry =
  /** A message for the reader (`sequenced`: it came inside OPTS). */
  | { readonly kind: 'msg'; readonly bytes: Uint8Array; readonly sequenced: boolean }
  /** A FIN, processed when it reaches the head (after everything before it was read). */
  | { readonly kind: 'fin' }
  /** A sequenced message that is consumed but not delivered (its inner `h_nodeid` was wrong). */
  | { readonly kind: 'skip' };

export class InboundBuffer {
  #entries: InboundEntry[] = [];
  #head = 0;
  /** Entries held (`#entries.length - #head`, kept here: the receive path reads it per message without the array). */
  #count = 0;
  #bytes = 0;
  #messages = 0;
  /** Sequenced entries held (they hold the ACK back). */
  #sequenced = 0;

  get length(): number {
    return this.#count;
  }
  get bytes(): number {
    return this.#bytes;
  }
  get messages(): number {
    return this.#messages;
  }
  get sequenced(): number {
    return this.#sequenced;
  }

  /** Room for one more entry of `bytes` (FIN and skip markers count as entries too, so a peer cannot pile them up). */
  hasRoom(bytes: number, maxEntries: number, maxBytes: number): boolean {
    return this.length < maxEntries && this.#bytes + bytes <= maxBytes;
  }

  push(entry: InboundEntry): void {
    this.#entries.push(entry);
    this.#count++;
    if (entry.kind === 'msg') {
      this.#bytes += entry.bytes.length;
      this.#messages++;
      if (entry.sequenced) this.#sequenced++;
    } else {
      this.#sequenced++;
    }
  }

  peek(): InboundEntry | undefined {
    return this.#entries[this.#head];
  }

  shift(): InboundEntry | undefined {
    if (this.#head >= this.#entries.length) return undefined;
    const entry = this.#entries[this.#head++]!;
    this.#count--;
    if (entry.kind === 'msg') {
      this.#bytes -= entry.bytes.length;
      this.#messages--;
      if (entry.sequenced) this.#sequenced--;
    } else {
      this.#sequenced--;
    }
    if (this.#head === this.#entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return entry;
  }

  /**
   * After a session reset: messages stay for the reader (they were received
   * exactly once), but no longer count as sequenced, and FIN/skip markers go.
   */
  forgetSequence(): void {
    const kept: InboundEntry[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (e.kind === 'msg') kept.push(e.sequenced ? { kind: 'msg', bytes: e.bytes, sequenced: false } : e);
    }
    this.#entries = kept;
    this.#head = 0;
    this.#count = kept.length;
    this.#sequenced = 0;
  }
}

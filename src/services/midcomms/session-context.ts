/** What a midcomms session needs from its owner. */
export interface SessionContext {
  /** Our mesh address, sent in HELLO so the peer can open channels back. */
  readonly address: string;
  /** A new session generation, unique within this node incarnation. */
  nextGen(): number;
  /** Called once when the session is fenced (the owner forgets it). */
  onFenced?(): void;
}

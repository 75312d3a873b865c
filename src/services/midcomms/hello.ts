/**
 * Session identity: the rules that keep a restarted or fenced peer from
 * being mistaken for the old one (spec §5.12 item 8), as a pure function.
 *
 * Each side names its state for a peer with a `SessionId`: `inc` is the
 * node's incarnation (random at start, so a restart changes it) and `gen`
 * counts the sessions this incarnation has begun with that peer (a fence or a
 * completed FIN close begins a new one). Every channel starts with a HELLO
 * carrying the sender's id and the id it believes the receiver has (0:0 when
 * it knows none). A pair of ids is one session; sequence numbers mean
 * something only within it.
 *
 * - The peer's id differs from the one we recorded: the peer has begun a new
 *   session (it restarted or fenced us). Ours ends too: every unacknowledged
 *   message is reported lost (never silently), sequence numbers restart at 0.
 * - The peer names an id of ours that is not our current one: it is talking
 *   to a session of ours that is over. The channel is refused (we answer with
 *   our HELLO, so it learns our id, and close the channel); nothing on it is
 *   taken.
 */

/** A session incarnation: node incarnation + per-peer session generation. */
export interface SessionId {
  readonly inc: number;
  readonly gen: number;
}

export function sameSession(a: SessionId | null, b: SessionId | null): boolean {
  if (a === null || b === null) return a === b;
  return a.inc === b.inc && a.gen === b.gen;
}

/** 0:0 on the wire means "unknown". */
export function sessionIdOrNull(inc: number, gen: number): SessionId | null {
  return inc === 0 && gen === 0 ? null : { inc, gen };
}

export function describeSessionId(id: SessionId | null): string {
  return id === null ? '-' : `${id.inc.toString(16)}:${id.gen}`;
}

export interface HelloVerdict {
  /** What to do with our record of the peer's id. */
  readonly remote: 'keep' | 'adopt' | 'reset';
  /** Take the channel's frames, or refuse the channel. */
  readonly channel: 'accept' | 'refuse';
}

/**
 * @param local our current id for this peer
 * @param remote the peer's id as we recorded it (null: none yet)
 * @param helloSid the id the HELLO carries
 * @param helloPeer the id of ours the HELLO names (null: the sender knows none)
 */
export function judgeHello(local: SessionId, remote: SessionId | null, helloSid: SessionId, helloPeer: SessionId | null): HelloVerdict {
  const channel = helloPeer !== null && !sameSession(helloPeer, local) ? 'refuse' : 'accept';
  const remoteVerdict = remote === null ? 'adopt' : sameSession(remote, helloSid) ? 'keep' : 'reset';
  return { remote: remoteVerdict, channel };
}

/**
 * Which channel carries a session after a HELLO was accepted on `cs`, given
 * the session's `current` channel (cold: once per channel, not per message).
 */
import type { ChannelState } from './channel-set.ts';

/**
 * `adopt`: there was none, `cs` becomes current. `follow`: the peer opened a
 * new channel, `cs` replaces the current one. `duplicate`: both sides opened
 * one, the one opened by the lower node id replaces the other. `redundant`:
 * `cs` is ours, answered while we already transmit on the peer's (lower node
 * id) channel: close `cs`. `keep`: nothing changes.
 */
export type ChannelChoice = 'adopt' | 'follow' | 'duplicate' | 'redundant' | 'keep';

export function chooseChannel(cs: ChannelState, current: ChannelState | null, peerNodeid: number, ourNodeid: number): ChannelChoice {
  if (current === null) return 'adopt';
  // The peer opens a channel only when it has none it can use: the one it
  // opened before is dead at its end (a path lost silently, found by its
  // keepalive before ours). Follow it, or our frames go into the void.
  if (current !== cs && !cs.opener && !current.opener && current.helloSeen) return 'follow';
  // Both sides opened a channel: the one opened by the lower node id is kept.
  if (current !== cs && !cs.opener && current.opener && peerNodeid < ourNodeid) return 'duplicate';
  // The same, seen from the lower node id when the peer's channel was taken
  // while ours waited for its answer (`ChannelOpener.awaitsReply`): ours replaces it.
  if (current !== cs && cs.opener && !current.opener && ourNodeid < peerNodeid) return 'duplicate';
  if (current !== cs && cs.opener && !current.opener && peerNodeid < ourNodeid) return 'redundant';
  return 'keep';
}

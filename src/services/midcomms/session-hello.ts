/**
 * A session's answer to a HELLO on one of its channels (spec §5.2, §5.7,
 * §5.12 item 8): the pure verdict of `hello.ts` applied (adopt or reset the
 * peer's id, refuse a stale channel, detect the version), our HELLO written
 * back where due, and the choice of the channel that carries the session
 * (`channel-choice.ts`).
 */
import { chooseChannel } from './channel-choice.ts';
import type { ChannelSet, ChannelState } from './channel-set.ts';
import { DLM_VERSION } from './constants.ts';
import type { FinDriver } from './fin-driver.ts';
import { midcommsErr } from './fin-driver.ts';
import { HELLO_REFUSED, HELLO_REPLY, encodeHello } from './frame-encoder.ts';
import type { DropReason, ParsedFrame } from './frame-reader.ts';
import { describeSessionId, judgeHello } from './hello.ts';
import type { ResolvedMidcommsOptions } from './options.ts';
import type { SessionContext } from './session-context.ts';
import type { SessionIdentity } from './session-identity.ts';
import type { SessionStats } from './session-stats.ts';

/** What HELLO handling needs of its session. */
export interface HelloHost {
  readonly peer: string;
  readonly o: ResolvedMidcommsOptions;
  readonly ctx: SessionContext;
  readonly id: SessionIdentity;
  readonly chans: ChannelSet;
  readonly fin: FinDriver;
  readonly stats: SessionStats;
  drop(reason: DropReason): void;
  /** The peer speaks 3.1: what was queued as sequenced goes out bare. */
  becomeUnsequenced(): void;
}

/** The first HELLO on channel `cs` (the caller drops a repeated one). */
export function onHello(s: HelloHost, cs: ChannelState, h: Extract<ParsedFrame, { kind: 'hello' }>): void {
  const id = s.id;
  const o = s.o;
  cs.helloSeen = true;
  if (h.sid === null) {
    s.stats.channelErrors.HELLO_EXPECTED++;
    s.chans.close(cs, 'HELLO without a session id');
    return;
  }
  const verdict = judgeHello(id.local, id.remote, h.sid, h.peer);
  const version = Math.min(o.version, h.version);
  if (verdict.remote === 'reset') {
    s.stats.peerResets++;
    s.fin.reset('peer', midcommsErr('PEER_RESET', `${s.peer} began a new session (${describeSessionId(id.remote)} -> ${describeSessionId(h.sid)}); unacknowledged messages are not delivered`), cs);
  }
  const refusedByPeer = (h.flags & HELLO_REFUSED) !== 0;
  if (verdict.remote !== 'keep') {
    id.remote = h.sid;
    id.peerNodeid = h.nodeid;
    id.peerVersion = version;
    if (version === DLM_VERSION.V3_1) s.becomeUnsequenced();
  } else if (id.peerNodeid !== h.nodeid || id.peerVersion !== version) {
    s.drop(id.peerNodeid !== h.nodeid ? 'nodeidMismatch' : 'versionMismatch');
    cs.refused = true;
  }
  if (verdict.channel === 'refuse') {
    s.stats.channelsRefused++;
    cs.refused = true;
  }
  if (!cs.opener || cs.refused) {
    const flags = (cs.opener ? 0 : HELLO_REPLY) | (cs.refused ? HELLO_REFUSED : 0);
    s.chans.write(cs, encodeHello(o.version, o.nodeid, id.local, id.remote, flags, s.ctx.address));
  }
  if (cs.refused || refusedByPeer) {
    s.chans.close(cs, 'stale session');
    return;
  }
  cs.productive = true;
  if (cs.opener) s.chans.answered(cs);
  // A refused channel carries no session traffic: it names the ids, it does not establish.
  if (id.peerVersion === DLM_VERSION.V3_2) s.fin.apply('versionDetected');
  const cur = s.chans.current;
  const choice = chooseChannel(cs, cur, id.peerNodeid, o.nodeid);
  // Both sides opened one: the lower node id's is kept; ours, still waiting for its answer, goes.
  if (!cs.opener && id.peerNodeid < o.nodeid) s.chans.closeOpening('duplicate channel');
  if (choice === 'redundant') return s.chans.close(cs, 'duplicate channel');
  if (choice === 'keep') return;
  s.chans.makeCurrent(cs);
  if (cur !== null && choice !== 'adopt') s.chans.close(cur, choice === 'follow' ? 'the peer opened a new channel' : 'duplicate channel');
}

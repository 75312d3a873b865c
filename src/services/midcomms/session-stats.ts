/** Counters of one session, and the snapshot `Session.stats()` returns. */
import type { DropReason } from './frame-reader.ts';

const DROP_REASONS: readonly DropReason[] = [
  'badVersion',
  'versionMismatch',
  'badCmd',
  'rawRcomType',
  'tooShort',
  'badOptlen',
  'badNextCmd',
  'badInnerLength',
  'badInnerVersion',
  'nodeidMismatch',
  'badAck',
  'wrongGeneration',
  'helloAgain',
  'staleChannel',
  'gap',
  'duplicate',
  'afterFramingError',
  'overflow',
];

export type ChannelErrorCode = 'BAD_FRAME_LENGTH' | 'TRUNCATED' | 'HELLO_EXPECTED';

/** The session's live state at the time of the snapshot. */
export interface SessionStateView {
  /** FIN state name (§5.8). */
  readonly state: string;
  /** Effective protocol version with the peer (0 before its HELLO). */
  readonly version: number;
  readonly peerNodeid: number;
  /** Session ids, ours and the peer's (`inc:gen` in hex:decimal). */
  readonly local: string;
  readonly remote: string;
  /** Next sequence number we assign (`seq_send`). */
  readonly seqSend: number;
  /** Oldest unacknowledged sequence number (= seqSend when the queue is empty). */
  readonly firstUnacked: number;
  /** Next sequence number expected from the peer (`seq_next`). */
  readonly seqNext: number;
  /** Unacknowledged (3.2) or unwritten (3.1) messages we hold, and their bytes. */
  readonly queueMessages: number;
  readonly queueBytes: number;
  /** Received messages waiting for the reader. */
  readonly inboundMessages: number;
  readonly inboundBytes: number;
  /** `send()` calls waiting for room in the window. */
  readonly waiting: number;
  /** The send window's bounds (Linux's queue has none). */
  readonly windowMessages: number;
  readonly windowBytes: number;
  readonly users: number;
  readonly stopTx: boolean;
  readonly stopRx: boolean;
  /** Channels open now. */
  readonly channels: number;
}

export type SessionStatsSnapshot = SessionStateView & {
  readonly sent: number;
  readonly delivered: number;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly retransmits: number;
  readonly acksSent: number;
  readonly acksReceived: number;
  readonly timerAcks: number;
  readonly windowWaits: number;
  readonly resets: number;
  readonly peerResets: number;
  readonly droppedOnReset: number;
  readonly channelsOpened: number;
  readonly channelsAccepted: number;
  readonly channelsLost: number;
  readonly channelsRefused: number;
  readonly openFailures: number;
  readonly finWarnings: number;
  readonly rxAfterStopRx: number;
  readonly shutdownTimeouts: number;
  readonly internalErrors: number;
  /** Frames dropped, by reason (§5.4, §5.5). `duplicate` counts duplicates dropped. */
  readonly drops: Readonly<Record<DropReason, number>>;
  /** Channels closed because their byte stream broke (§5.4 item 1). */
  readonly channelErrors: Readonly<Record<ChannelErrorCode, number>>;
};

export class SessionStats {
  sent = 0;
  delivered = 0;
  framesSent = 0;
  framesReceived = 0;
  retransmits = 0;
  acksSent = 0;
  acksReceived = 0;
  timerAcks = 0;
  windowWaits = 0;
  resets = 0;
  peerResets = 0;
  droppedOnReset = 0;
  channelsOpened = 0;
  channelsAccepted = 0;
  channelsLost = 0;
  channelsRefused = 0;
  openFailures = 0;
  finWarnings = 0;
  rxAfterStopRx = 0;
  shutdownTimeouts = 0;
  internalErrors = 0;
  readonly drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  readonly channelErrors: Record<ChannelErrorCode, number> = { BAD_FRAME_LENGTH: 0, TRUNCATED: 0, HELLO_EXPECTED: 0 };

  snapshot(view: SessionStateView): SessionStatsSnapshot {
    return {
      ...view,
      sent: this.sent,
      delivered: this.delivered,
      framesSent: this.framesSent,
      framesReceived: this.framesReceived,
      retransmits: this.retransmits,
      acksSent: this.acksSent,
      acksReceived: this.acksReceived,
      timerAcks: this.timerAcks,
      windowWaits: this.windowWaits,
      resets: this.resets,
      peerResets: this.peerResets,
      droppedOnReset: this.droppedOnReset,
      channelsOpened: this.channelsOpened,
      channelsAccepted: this.channelsAccepted,
      channelsLost: this.channelsLost,
      channelsRefused: this.channelsRefused,
      openFailures: this.openFailures,
      finWarnings: this.finWarnings,
      rxAfterStopRx: this.rxAfterStopRx,
      shutdownTimeouts: this.shutdownTimeouts,
      internalErrors: this.internalErrors,
      drops: { ...this.drops },
      channelErrors: { ...this.channelErrors },
    };
  }
}

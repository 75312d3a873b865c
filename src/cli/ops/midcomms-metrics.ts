/**
 * Prometheus figures of a midcomms service (src/services/midcomms), for an
 * embedder's or a relay's MetricsRegistry:
 *
 *   relay.ops.registry.register('midcomms', midcommsCollector(mc));
 *
 * Read on scrape from `Session.stats()` (plain counters the sessions keep
 * anyway); one sample per peer session, labelled `peer` (the session's
 * address: the peer's node id). The service-wide figures of the channel
 * verifier (`Midcomms.verification()`: channels peers opened, proven or
 * refused) have no `peer` label; refusals are labelled `reason`.
 */
import type { Midcomms, VerifierStats } from '../../services/midcomms/index.ts';
import type { Collector } from './metrics-registry.ts';
import type { MetricFamily, Sample } from './exposition.ts';

type Counter = 'sent' | 'delivered' | 'retransmits' | 'windowWaits' | 'acksSent' | 'acksReceived' | 'resets' | 'peerResets' | 'channelsOpened' | 'channelsLost';
type Gauge = 'queueMessages' | 'queueBytes' | 'inboundMessages' | 'waiting' | 'channels';

const COUNTERS: ReadonlyArray<readonly [Counter, string, string]> = [
  ['sent', 'dmsg_midcomms_messages_sent_total', 'Messages accepted by send() (each once, however often retransmitted).'],
  ['delivered', 'dmsg_midcomms_messages_delivered_total', 'Messages delivered to the reader, in order, exactly once.'],
  ['retransmits', 'dmsg_midcomms_retransmits_total', 'Messages sent again after a channel was lost (§5.7).'],
  ['windowWaits', 'dmsg_midcomms_window_waits_total', 'send() calls that waited for room in the send window.'],
  ['acksSent', 'dmsg_midcomms_acks_sent_total', 'ACKs sent.'],
  ['acksReceived', 'dmsg_midcomms_acks_received_total', 'ACKs received.'],
  ['resets', 'dmsg_midcomms_resets_total', 'Sessions restarted from sequence 0 by us.'],
  ['peerResets', 'dmsg_midcomms_peer_resets_total', 'Sessions restarted because the peer restarted (new incarnation).'],
  ['channelsOpened', 'dmsg_midcomms_channels_opened_total', 'Channels (transactions on the peer instance) opened.'],
  ['channelsLost', 'dmsg_midcomms_channels_lost_total', 'Channels that ended with a lost link or path.'],
];

const GAUGES: ReadonlyArray<readonly [Gauge, string, string]> = [
  ['queueMessages', 'dmsg_midcomms_queue_messages', 'Messages held until acknowledged.'],
  ['queueBytes', 'dmsg_midcomms_queue_bytes', 'Bytes held until acknowledged.'],
  ['inboundMessages', 'dmsg_midcomms_inbound_messages', 'Received messages waiting for the reader.'],
  ['waiting', 'dmsg_midcomms_senders_waiting', 'send() calls waiting for room in the window now.'],
  ['channels', 'dmsg_midcomms_channels', 'Channels open now.'],
];

type VerifierCounter = 'verified' | 'byTicket' | 'challengesSent' | 'proofsWritten' | 'denialsSent' | 'proofsUnmatched';
type VerifierGauge = 'pending' | 'ownChannels';

const VERIFIER_COUNTERS: ReadonlyArray<readonly [VerifierCounter, string, string]> = [
  ['verified', 'dmsg_midcomms_channels_verified_total', 'Channels peers opened, proven to be the claimed node\'s (by a PROOF or a resume ticket).'],
  ['byTicket', 'dmsg_midcomms_channels_verified_by_ticket_total', 'Of the verified channels, those proven by a one-use resume ticket (no CHALLENGE).'],
  ['challengesSent', 'dmsg_midcomms_challenges_sent_total', 'CHALLENGEs sent to the node a new channel claims to come from (first tries and retries).'],
  ['proofsWritten', 'dmsg_midcomms_proofs_written_total', 'CHALLENGEs answered with a PROOF on a channel we opened.'],
  ['denialsSent', 'dmsg_midcomms_challenge_denials_sent_total', 'CHALLENGEs answered with a denial (no channel of ours has that token).'],
  ['proofsUnmatched', 'dmsg_midcomms_proofs_unmatched_total', "PROOFs on a pending channel with another channel's nonce."],
];

const VERIFIER_GAUGES: ReadonlyArray<readonly [VerifierGauge, string, string]> = [
  ['pending', 'dmsg_midcomms_channels_pending', 'Channels peers opened, waiting for their proof now.'],
  ['ownChannels', 'dmsg_midcomms_own_channels', 'Channels we opened and hold now (what a CHALLENGE may name).'],
];

/** The channel verifier's families (`Midcomms.verification()`). */
function verifierFamilies(v: VerifierStats): MetricFamily[] {
  const families: MetricFamily[] = [];
  for (const [key, name, help] of VERIFIER_COUNTERS) families.push({ name, help, type: 'counter', samples: [{ value: v[key] }] });
  const refused: Sample[] = Object.entries(v.refused).map(([reason, n]) => ({ labels: { reason }, value: n }));
  families.push({ name: 'dmsg_midcomms_channels_refused_total', help: 'Channels peers opened that were refused, by reason.', type: 'counter', samples: refused });
  for (const [key, name, help] of VERIFIER_GAUGES) families.push({ name, help, type: 'gauge', samples: [{ value: v[key] }] });
  return families;
}

/** A collector of every session's figures of `mc`, and of its channel verifier. */
export function midcommsCollector(mc: Midcomms): Collector {
  return () => {
    const snapshots = [...mc.sessions()].map(([peer, s]) => [peer, s.stats()] as const);
    const families: MetricFamily[] = [
      { name: 'dmsg_midcomms_sessions', help: 'Midcomms sessions this node keeps.', type: 'gauge', samples: [{ value: snapshots.length }] },
    ];
    for (const [key, name, help] of COUNTERS) {
      families.push({ name, help, type: 'counter', samples: snapshots.map(([peer, st]): Sample => ({ labels: { peer }, value: st[key] })) });
    }
    for (const [key, name, help] of GAUGES) {
      families.push({ name, help, type: 'gauge', samples: snapshots.map(([peer, st]): Sample => ({ labels: { peer }, value: st[key] })) });
    }
    const dropped: Sample[] = [];
    for (const [peer, st] of snapshots) for (const [reason, n] of Object.entries(st.drops)) if (n > 0) dropped.push({ labels: { peer, reason }, value: n });
    families.push({ name: 'dmsg_midcomms_frames_dropped_total', help: 'Received frames dropped, by reason (§5.4, §5.5).', type: 'counter', samples: dropped });
    families.push(...verifierFamilies(mc.verification()));
    return families;
  };
}

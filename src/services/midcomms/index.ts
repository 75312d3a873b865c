/**
 * midcomms: Linux DLM's reliable-delivery layer (fs/dlm/midcomms.c) as a
 * service over spans. See docs/midcomms.md and spec dlm-midcomms.md §5.
 */
export { DLM_VERSION, DLM_CMD, RCOM_TYPE, SIZE as MIDCOMMS_SIZE, MC_STATE, THRESHOLD, stateName } from './constants.ts';
export type { DlmVersion, McState } from './constants.ts';
export { MidcommsError, isMidcommsError } from './errors.ts';
export type { MidcommsErrorCode } from './errors.ts';
export { seqAdd, seqDiff, seqBefore, seqAfter } from './seq.ts';
export { encodeOpts, encodeAck, encodeFin, encodeHello, encodeOptions, encodeDlmMessage, writeHeader, encodeChallengeFrame, CHALLENGE_DENIED, TOKEN_BYTES } from './frame-encoder.ts';
export type { OptionTlv } from './frame-encoder.ts';
export { parseFrame, frameLengthAt, minInnerLength } from './frame-reader.ts';
export type { ParsedFrame, DropReason, FramingCheck } from './frame-reader.ts';
export { finRule } from './fin-rules.ts';
export type { FinEvent, FinAction, FinVerdict } from './fin-rules.ts';
export { judgeHello } from './hello.ts';
export type { SessionId, HelloVerdict } from './hello.ts';
export { MIDCOMMS_DEFAULTS, resolveMidcommsOptions } from './options.ts';
export type { MidcommsOptions, ResolvedMidcommsOptions } from './options.ts';
export type { Channel, ChannelSink, ChannelOpener } from './channel.ts';
export { Session } from './session.ts';
export type { SendOptions, SessionContext } from './session.ts';
export type { ReadOptions } from './receiver.ts';
export type { SessionStatsSnapshot } from './session-stats.ts';
export { Midcomms, midcomms, nodeidOf, MIDCOMMS_SESSION_CMD, MIDCOMMS_FRAME_CMD } from './midcomms.ts';
export type { MidcommsServiceOptions } from './midcomms.ts';
export { TransactionChannel } from './transaction-channel.ts';
export { ChannelVerifier, PENDING_PER_ADDRESS, CHALLENGE_RETRY_MS } from './channel-verifier.ts';
export type { ChannelRefusal, VerifiableChannel, VerifierDeps, VerifierStats } from './channel-verifier.ts';
export type { TransactionChannelOptions } from './transaction-channel.ts';

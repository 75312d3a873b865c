/**
 * Membership views of a DLM lockspace: Raft-based agreement on a numbered
 * sequence of views, with granting leases (docs/views.md). The protocol is
 * pure (step.ts); the driver (driver.ts) runs it on a clock, a store and a
 * transport, and drives a lockspace.
 */
export type { Entry, Message, NodeId, Persisted, Role, StepResult, TimerKind, TimerRequest, ViewsConfig, ViewsEvent, ViewsOutput, ViewsState } from './types.ts';
export { initViewsState, persistedOf, step } from './step.ts';
export { resolveViewsOptions, ViewsOptionsError, type ViewsOptions } from './options.ts';
export { incarnationIn, quorum, viewAt, type View } from './view-log.ts';
export { ViewsDriver, REJOIN_STATE, REJOIN_BY_INCARNATION_STATE, type ViewsDriverDeps, type ViewsSend, type ViewsStats, type ViewsTarget } from './driver.ts';
export { resolveViewsDriverOptions, VIEWS_DRIVER_DEFAULTS, VIEWS_MAX_VOTERS, type ViewsDriverConfig, type ViewsDriverOptions } from './driver-options.ts';
export { FileViewsStore, MemoryViewsStore, ViewsStoreError, VIEWS_FILE_FORMAT, viewsStoreFile, type ViewsStore, type ViewsStoreErrorCode } from './driver-store.ts';
export { decodeViewsMessage, encodeViewsMessage, VIEWS_MAX_ENTRIES_IN, VIEWS_MAX_MESSAGE_BYTES, type ViewsDropReason } from './driver-codec.ts';
export { applyOutput, initApplyState, type ApplyAction, type ApplyState } from './driver-apply.ts';
export { MembershipTracker, type SeenMember } from './driver-membership.ts';

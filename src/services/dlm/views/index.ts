/**
 * Membership views of a DLM lockspace: Raft-based agreement on a numbered
 * sequence of views, with granting leases (docs/views.md). Pure; no I/O.
 */
export type { Entry, Message, NodeId, Persisted, Role, StepResult, TimerKind, TimerRequest, ViewsConfig, ViewsEvent, ViewsOutput, ViewsState } from './types.ts';
export { initViewsState, persistedOf, step } from './step.ts';
export { resolveViewsOptions, ViewsOptionsError, type ViewsOptions } from './options.ts';
export { quorum, viewAt, type View } from './view-log.ts';

/** Public API of the iocom layer: one link, its transactions. */
export { Iocom } from './iocom.ts';
export type { OpenOptions, OneWayOptions, IocomStats } from './iocom.ts';
export { Transaction } from './transaction.ts';
export type { SendOptions } from './transaction.ts';
export { IOCOM_DEFAULTS, resolveIocomOptions, BUDGET_DEFAULTS, resolveBudgetOptions } from './options.ts';
export type { IocomOptions, ResolvedIocomOptions, BudgetOptions, ResolvedBudgetOptions } from './options.ts';
export { Budget, BudgetAccount } from './budget.ts';
export type { BudgetStats, BudgetLimit, BudgetResource, BudgetMember } from './budget.ts';
export { TransactionError, LinkError } from './errors.ts';
export type { TransactionErrorCode, LinkErrorCode, LinkCloseReason } from './errors.ts';
export { classifyRx } from './state-rules.ts';
export type { RxVerdict, RxStateView } from './state-rules.ts';
export { rawPublicKey, keyFingerprint, AUTH_VERSION, AUTH_CONTEXT, proofTranscript } from './auth.ts';
export type { TranscriptFields } from './auth.ts';
export { TLS_EXPORTER_LABEL } from './channel-binding.ts';
export { markLinkRole, linkRoleOf } from '../util/link-role.ts';
export type { LinkRole } from '../util/link-role.ts';

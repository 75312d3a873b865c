/**
 * `dmsg-mesh/internal`: every building block of every layer, for power users
 * and tests (byte helpers, the state-rule table, the span table and relay
 * planner, option resolvers, backoff math ...). Nothing here is covered by
 * the semver promise of the root entry: names may change in any release.
 * Applications import from `dmsg-mesh`.
 */
export * from './wire/index.ts';
export * from './wire/ext/index.ts';
export * from './iocom/index.ts';
export * from './transport/index.ts';
export * from './span/index.ts';
export { ManualClock } from './util/clock.ts';
export * from './services/midcomms/index.ts';
// midcomms' SendOptions would clash with iocom's: iocom's keeps the name.
export type { SendOptions } from './iocom/index.ts';
export type { SendOptions as MidcommsSendOptions } from './services/midcomms/index.ts';
export * from './services/dlm/index.ts';

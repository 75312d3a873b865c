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
// The DLM service (added by "users" with the DLM names in the root entry; the rest of src/services may follow).
export * from './services/dlm/index.ts';

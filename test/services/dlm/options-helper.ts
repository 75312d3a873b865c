/** Re-exports for options.test.ts (the resolver is internal to the service). */
export { Dlm, DlmError, LKF, LKM } from '../../../src/services/dlm/index.ts';
export { resolveDlmOptions as resolveDlmOptionsForTest } from '../../../src/services/dlm/options.ts';

/**
 * How tests start the `dmsg` CLI as a child process: `node <this run's
 * prebuilt CLI bundle>` (test/helpers/cli-bundle.ts, built once per run by
 * test/helpers/global-setup.ts), the same sources bin/dmsg.js runs through
 * tsx, without tsx's per-process start-up cost. Tests of bin/dmsg.js itself
 * start DMSG_BIN.
 */
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of this run's prebuilt `dmsg` CLI bundle (test/helpers/cli-bundle.ts). */
    dmsgCliBundle: string;
  }
}

/** The real bin, as a user runs it (`node bin/dmsg.js`, the sources through tsx). */
export const DMSG_BIN = fileURLToPath(new URL('../../bin/dmsg.js', import.meta.url));

/** The script to give `node` to run the CLI: this run's prebuilt bundle. */
export function dmsgCliScript(): string {
  const bundle = inject('dmsgCliBundle');
  if (typeof bundle !== 'string' || bundle === '') throw new Error('no prebuilt dmsg CLI bundle: vitest.config.ts must list test/helpers/global-setup.ts as globalSetup');
  return bundle;
}

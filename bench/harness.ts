/**
 * The benchmark harness lives in src/cli/bench-harness.ts (`dmsg bench`
 * runs it from the installed package); bench modules import it from here.
 */
export * from '../src/cli/bench-harness.ts';

/**
 * Wire codec benchmark (`npm run bench -- wire`). The code lives in
 * src/cli/wire-bench.ts, so `dmsg bench wire|headers` runs the same
 * measurement from the installed package.
 */
export * from '../src/cli/wire-bench.ts';

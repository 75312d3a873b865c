/**
 * Vitest global setup (vitest.config.ts): runs in the main process before
 * any test file, once per project (the root config and each of its
 * projects); the build happens once per run.
 *
 * Builds the prebuilt `dmsg` CLI bundle (test/helpers/cli-bundle.ts) and
 * hands its path to the test files as `inject('dmsgCliBundle')`; removes it
 * when the last project's teardown runs.
 */
import type { TestProject } from 'vitest/node';
import { buildCliBundle, removeCliBundle } from './cli-bundle.ts';

/** This run's bundle, shared by the projects' setups (each may load this module afresh, so it lives on globalThis). */
interface Shared {
  bundle: Promise<string>;
  users: number;
}
const KEY = Symbol.for('dmsg-mesh.test.cliBundle');
const holder = globalThis as unknown as Record<symbol, Shared | undefined>;

export default async function setup(project: TestProject): Promise<() => void> {
  const shared = (holder[KEY] ??= { bundle: buildCliBundle(`${process.pid}-${Date.now().toString(36)}`), users: 0 });
  shared.users++;
  project.provide('dmsgCliBundle', await shared.bundle);
  return () => {
    if (--shared.users > 0) return;
    holder[KEY] = undefined;
    void shared.bundle.then(removeCliBundle);
  };
}

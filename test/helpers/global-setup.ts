/**
 * Vitest global setup (vitest.config.ts): runs once per `vitest run`, in the
 * main process, before any test file.
 *
 * Builds the prebuilt `dmsg` CLI bundle (test/helpers/cli-bundle.ts) and
 * hands its path to the test files as `inject('dmsgCliBundle')`; removes it
 * at the end of the run.
 */
import type { TestProject } from 'vitest/node';
import { buildCliBundle, removeCliBundle } from './cli-bundle.ts';

export default async function setup(project: TestProject): Promise<() => void> {
  const bundle = await buildCliBundle(`${process.pid}-${Date.now().toString(36)}`);
  project.provide('dmsgCliBundle', bundle);
  return () => removeCliBundle(bundle);
}

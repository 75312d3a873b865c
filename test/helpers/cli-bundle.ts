/**
 * The `dmsg` CLI as one prebuilt ES module, for tests that start it as a
 * child process many times.
 *
 * `node bin/dmsg.js` runs the TypeScript sources through tsx: every start
 * registers tsx's loader and compiles (or reads from tsx's cache) about a
 * hundred modules, ~0.7 s of CPU per process. The suite starts the CLI
 * dozens of times, so the global setup (test/helpers/global-setup.ts)
 * bundles the same sources once per run with esbuild (which tsx itself uses
 * to compile them) and the tests start `node <bundle>` instead (~0.2 s).
 *
 * What the bundle runs is what bin/dmsg.js runs: `runAsProgram()` of
 * src/cli/main.ts, from the current sources (rebuilt every run, never
 * cached across runs). Each source module's `import.meta.url` is its own
 * file's URL, as under tsx (packageVersion() reads ../../package.json
 * relative to it; crc32c.ts requires its native module relative to it).
 * Packages stay external, resolved from the repository's node_modules as
 * under tsx: the bundle is written inside node_modules/.cache.
 * bin/dmsg.js itself (its tsx path) stays covered by the tests that start it
 * directly (test/cli/main.test.ts, the `--version` and `npm run dmsg` cases
 * of test/cli/bin-failures.test.ts).
 */
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** Where bundles are written: inside the repository, so bare package imports resolve from its node_modules. */
export const CLI_BUNDLE_DIR = join(ROOT, 'node_modules', '.cache', 'dmsg-mesh-test');

/** Replaces `import.meta.url` in each source module with that module's own file URL (bundling would make it the bundle's). */
const ownImportMetaUrl: Plugin = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (!args.path.startsWith(SRC)) return undefined;
      const text = readFileSync(args.path, 'utf8').replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href));
      return { contents: text, loader: 'ts' };
    });
  },
};

/**
 * Bundles src/cli/main.ts's `runAsProgram()` into `<CLI_BUNDLE_DIR>/cli-<tag>.mjs`
 * (written to a temporary name first, then renamed) and returns its path.
 */
export async function buildCliBundle(tag: string): Promise<string> {
  mkdirSync(CLI_BUNDLE_DIR, { recursive: true });
  const out = join(CLI_BUNDLE_DIR, `cli-${tag}.mjs`);
  const tmp = `${out}.tmp-${process.pid}`;
  await build({
    stdin: { contents: "import { runAsProgram } from './src/cli/main.ts';\nawait runAsProgram();\n", resolveDir: ROOT, sourcefile: 'dmsg-cli-entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    packages: 'external',
    conditions: ['dmsg-mesh-source'],
    logLevel: 'silent',
    outfile: tmp,
    plugins: [ownImportMetaUrl],
  });
  renameSync(tmp, out);
  return out;
}

/** Removes a bundle written by buildCliBundle. */
export function removeCliBundle(path: string): void {
  rmSync(path, { force: true });
}

#!/usr/bin/env node
// The `dmsg` command.
// - Installed from the package: runs the compiled JavaScript in dist/.
// - In a checkout of the repository (src/ present and tsx installed as a dev
//   dependency): runs the TypeScript sources through tsx, so a fresh clone
//   needs no build and an edit never runs against a stale dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

async function load() {
  if (existsSync(source)) {
    const tsx = await import('tsx/esm/api').catch(() => undefined);
    if (tsx) {
      tsx.register();
      return import(source.href);
    }
  }
  if (!existsSync(compiled)) {
    process.stderr.write("dmsg: no compiled CLI in dist/ (run 'npm run build') and no tsx to run the sources\n");
    process.exit(1);
  }
  return import(compiled.href);
}

const cli = await load();
await cli.runAsProgram();

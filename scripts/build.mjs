#!/usr/bin/env node
// `npm run build`: src/ -> dist/ (ESM JavaScript, .d.ts, source maps).
//
// tsc's rewriteRelativeImportExtensions turns the sources' `./x.ts` imports
// into `./x.js` in the JavaScript it emits, but leaves them as `.ts` in the
// declaration files; TypeScript 5 consumers accept that, older ones and other
// tools do not, so the .d.ts specifiers are rewritten here to name the .js
// modules that sit next to them.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);

const SPEC = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+?)\.ts(['"])/g;
let rewritten = 0;
function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.d.ts')) {
      const text = readFileSync(p, 'utf8');
      const out = text.replace(SPEC, '$1$2.js$3');
      if (out !== text) {
        writeFileSync(p, out);
        rewritten++;
      }
    }
  }
}
walk(dist);
process.stderr.write(`built dist/ (${rewritten} declaration files had their .ts import specifiers rewritten to .js)\n`);

/**
 * The DLM's layering: it imports only its own files, src/util, the span
 * layer's public index and midcomms' public index (the transport adapter).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const DLM = join(SRC, 'services', 'dlm');

it('src/services/dlm imports only itself, util, span/index.ts and midcomms/index.ts', () => {
  const files = readdirSync(DLM).filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(10);
  for (const f of files) {
    const text = readFileSync(join(DLM, f), 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (!spec.startsWith('.')) {
        expect(['rxjs'], `${f} imports ${spec}`).toContain(spec);
        continue;
      }
      const target = relative(SRC, join(DLM, spec));
      const ok = target.startsWith('services/dlm/') || target.startsWith('util/') || target === 'span/index.ts' || target === 'services/midcomms/index.ts';
      expect(ok, `${f} imports ${spec} (${target})`).toBe(true);
    }
  }
});

it("the package root ('dmsg-mesh') carries the DLM's public names", async () => {
  const api = await import('../../../src/index.ts');
  for (const name of ['Dlm', 'DlmLockspace', 'DlmLock', 'DlmError', 'isDlmError', 'LKM', 'LKF', 'SBF', 'DLM_ERRNO', 'MODE_NAMES', 'newLksb', 'DlmRawLockspace', 'formatLockdump', 'MidcommsEndpoint', 'joinOverSpans', 'DLM_DEFAULTS', 'DlmSim']) {
    expect(api, name).toHaveProperty(name);
  }
  // The simulation (DlmSim) is public: the deterministic-simulation hooks are for
  // other people's tests too, and the md-cluster example runs on it. Internals (codec,
  // grant rules) stay in dmsg-mesh/internal.
  for (const name of ['dlmMessage', 'compatible']) expect(api, name).not.toHaveProperty(name);
});

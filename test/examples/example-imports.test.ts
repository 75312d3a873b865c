/** The example folders import only 'dmsg-mesh', rxjs, node: built-ins and files of their own folder, so a folder can be copied as it is. */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('example folders', () => {
  for (const folder of ['md-cluster', 'userspace-log']) {
    it(`examples/${folder}/ imports only dmsg-mesh and its own files`, () => {
      const dir = fileURLToPath(new URL(`../../examples/${folder}/`, import.meta.url));
      const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
      expect(files).toContain('main.ts');
      let fromPackage = 0;
      for (const f of files) {
        const specs = [...readFileSync(dir + f, 'utf8').matchAll(/^\s*import\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
        fromPackage += specs.filter((s) => s === 'dmsg-mesh').length;
        for (const s of specs) {
          const own = s.startsWith('./') && !s.slice(2).includes('/') && files.includes(s.slice(2));
          expect(s === 'dmsg-mesh' || s === 'rxjs' || s.startsWith('node:') || own, `${f} imports ${s}`).toBe(true);
        }
      }
      expect(fromPackage).toBeGreaterThan(0);
    });
  }
});

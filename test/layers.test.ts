/**
 * The layering of DESIGN.md, checked on the sources: each layer imports only
 * the layers below it, and the wire layer does no I/O, timers or rxjs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** Which top-level src folders each layer may import from. */
const ALLOWED: Record<string, string[]> = {
  util: ['util'],
  wire: ['wire'],
  transport: ['wire', 'transport', 'util'],
  iocom: ['wire', 'iocom', 'util'],
  span: ['wire', 'iocom', 'span', 'util'],
  cli: ['wire', 'iocom', 'transport', 'span', 'cli', 'util'],
};

describe('layers', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`${layer} imports only ${allowed.join(', ')}`, () => {
      for (const file of files(join(SRC, layer))) {
        for (const spec of imports(file)) {
          if (!spec.startsWith('.')) continue;
          const target = relative(SRC, join(file, '..', spec)).split(/[\\/]/)[0]!;
          expect(allowed, `${relative(SRC, file)} imports ${spec}`).toContain(target);
        }
      }
    });
  }

  it('the wire layer does no I/O, timers or rxjs', () => {
    for (const file of files(join(SRC, 'wire'))) {
      const text = readFileSync(file, 'utf8');
      for (const spec of imports(file)) {
        expect(['rxjs', 'node:stream', 'node:net', 'node:fs', 'node:timers', 'node:tls'], `${relative(SRC, file)} imports ${spec}`).not.toContain(spec);
      }
      expect(text, relative(SRC, file)).not.toMatch(/\bset(Timeout|Interval|Immediate)\(/);
    }
  });
});

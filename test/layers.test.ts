/**
 * The layering of DESIGN.md, checked on the sources: each layer imports only
 * the layers below it (wire <- iocom <- span <- services <- cli; util by all
 * but wire), a service only the span layer's public entry, and the wire
 * layer does no I/O, timers or rxjs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
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
  services: ['span', 'services', 'util'],
  cli: ['wire', 'iocom', 'transport', 'span', 'services', 'cli', 'util'],
};

/** Files outside src/ that a layer may import: none (cli does not import bench/). */
const KNOWN_OUTSIDE: Record<string, RegExp[]> = {};

describe('layers', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`${layer} imports only ${allowed.join(', ')}`, () => {
      const dir = join(SRC, layer);
      for (const file of existsSync(dir) ? files(dir) : []) {
        for (const spec of imports(file)) {
          if (!spec.startsWith('.')) continue;
          const path = relative(SRC, join(file, '..', spec));
          if (path.startsWith('..')) {
            const from = relative(join(SRC, '..'), file).split(sep).join('/');
            expect(KNOWN_OUTSIDE[layer]?.some((re) => re.test(from)), `${from} imports ${spec}, outside src/`).toBe(true);
            continue;
          }
          const target = path.split(/[\\/]/)[0]!;
          expect(allowed, `${relative(SRC, file)} imports ${spec}`).toContain(target);
        }
      }
    });
  }

  it('a service imports only the span layer\'s public entry, util, its own folder and other services\' entries', () => {
    const dir = join(SRC, 'services');
    for (const file of existsSync(dir) ? files(dir) : []) {
      const own = relative(dir, file).split(sep)[0]!;
      for (const spec of imports(file)) {
        if (!spec.startsWith('.')) continue;
        const parts = relative(SRC, join(file, '..', spec)).split(sep);
        const ok =
          (parts[0] === 'span' && parts.length === 2 && parts[1] === 'index.ts') ||
          parts[0] === 'util' ||
          (parts[0] === 'services' && (parts[1] === own || parts.slice(2).join('/') === 'index.ts'));
        expect(ok, `${relative(SRC, file)} imports ${spec}`).toBe(true);
      }
    }
  });

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

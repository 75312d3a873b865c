import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.ts';
import * as internal from '../src/internal.ts';
import * as byName from 'dmsg-mesh';

describe('public API (src/index.ts)', () => {
  it('exports the names an embedder needs', () => {
    for (const name of ['FrameDecoder', 'encodeMessage', 'ProtocolError', 'Iocom', 'Transaction', 'TransactionError', 'Router', 'memoryPair', 'listenTcp', 'connectTcp', 'reconnectingDialer', 'DMSG', 'DMSGF', 'DMSG_ERR', 'encodeLnkSpan', 'decodeLnkConn', 'serviceClusterId', 'startRelay', 'ManualClock', 'systemClock', 'SpanError', 'TransportError', 'LinkError']) {
      expect(api, name).toHaveProperty(name);
    }
  });

  it('keeps internals out of the root entry; dmsg-mesh/internal still has them', () => {
    for (const name of ['classifyRx', 'planRelays', 'SpanTable', 'backoffCeiling', 'readU16LE', 'writeU64LE', 'resolveIocomOptions', 'relayFilter', 'encodePathRecord']) {
      expect(api, name).not.toHaveProperty(name);
      expect(internal, name).toHaveProperty(name);
    }
    // The curated list is a fraction of everything.
    expect(Object.keys(api).length).toBeLessThan(Object.keys(internal).length / 2);
  });

  it("'dmsg-mesh' resolves to this entry inside the repository (examples and tests import it by name)", () => {
    expect(byName.Router).toBe(api.Router);
    expect(Object.keys(byName).sort()).toEqual(Object.keys(api).sort());
  });

  it('round-trips a message through the exported codec', () => {
    const d = new api.FrameDecoder();
    const bytes = api.concatBytes(api.encodeMessage({ header: { cmd: api.DMSG.LNK_PING, msgid: 7n } }));
    const [m] = d.push(bytes);
    expect(m!.header.msgid).toBe(7n);
    expect(() => d.end()).not.toThrow();
    expect(() => new api.FrameDecoder().push(new Uint8Array(64))).toThrow(api.ProtocolError);
  });

  it("every example imports only 'dmsg-mesh', rxjs and node: built-ins, so it can be copied as it is", () => {
    const dir = fileURLToPath(new URL('../examples/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const specs = [...readFileSync(dir + f, 'utf8').matchAll(/^\s*import\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
      expect(specs.length, f).toBeGreaterThan(0);
      for (const s of specs) expect(s === 'dmsg-mesh' || s === 'rxjs' || s.startsWith('node:'), `${f} imports ${s}`).toBe(true);
    }
  });
});

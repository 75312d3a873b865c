/**
 * The views driver's stores: the file store round-trips, replaces atomically
 * (no temporary file left), and refuses a damaged file with a typed error.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileViewsStore, MemoryViewsStore, ViewsDriver, ViewsStoreError, VIEWS_FILE_FORMAT, type Persisted } from '../../../../src/services/dlm/views/index.ts';
import { ManualClock } from '../../../../src/util/clock.ts';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'views-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const STATE: Persisted = {
  currentTerm: 7,
  votedFor: 2,
  log: [
    { term: 1, kind: 'noop' },
    { term: 3, kind: 'view', view: 1, members: [1, 2] },
    { term: 7, kind: 'view', view: 2, members: [1, 2, 3] },
  ],
};

describe('views stores', () => {
  it('file store: nothing saved loads as null; a save round-trips and leaves no temporary file', () => {
    const path = join(tmp(), 'views.json');
    const s = new FileViewsStore(path, [1, 2, 3]);
    expect(s.load()).toBeNull();
    s.save(STATE);
    expect(new FileViewsStore(path, [1, 2, 3]).load()).toEqual(STATE);
    s.save({ ...STATE, currentTerm: 8, votedFor: null });
    expect(s.load()).toEqual({ ...STATE, currentTerm: 8, votedFor: null });
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect(s.saves).toBe(2);
  });

  it('file store: a corrupt, truncated, tampered or foreign file is a ViewsStoreError VIEWS_STORE_CORRUPT', () => {
    const path = join(tmp(), 'views.json');
    const s = new FileViewsStore(path, [1, 2, 3]);
    s.save(STATE);
    const good = readFileSync(path, 'utf8');
    const doc = JSON.parse(good) as { format: string; sha256: string; body: string };
    const cases: [string, string][] = [
      ['truncated', good.slice(0, good.length - 10)],
      ['empty', ''],
      ['other format', JSON.stringify({ ...doc, format: 'x/1' })],
      ['body changed, checksum not', JSON.stringify({ ...doc, body: doc.body.replace('"currentTerm":7', '"currentTerm":9') })],
      ['checksum damaged', JSON.stringify({ ...doc, sha256: '0'.repeat(64) })],
    ];
    for (const [what, text] of cases) {
      writeFileSync(path, text);
      let err: unknown;
      try {
        s.load();
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(ViewsStoreError);
      expect((err as ViewsStoreError).code, what).toBe('VIEWS_STORE_CORRUPT');
    }
    // A well-formed file whose state breaks the rules (a vote for a non-voter; views out of order).
    for (const body of [
      JSON.stringify({ ...STATE, votedFor: 9 }),
      JSON.stringify({ ...STATE, log: [STATE.log[2]] }),
      JSON.stringify({ ...STATE, currentTerm: 1 }),
    ]) {
      writeFileSync(path, JSON.stringify({ format: VIEWS_FILE_FORMAT, sha256: createHash('sha256').update(body).digest('hex'), body }));
      expect(() => s.load()).toThrow(ViewsStoreError);
    }
  });

  it('a driver refuses to start from a bad file (typed error), and starts from a good one with its term', () => {
    const path = join(tmp(), 'views.json');
    const store = new FileViewsStore(path, [1, 2, 3]);
    store.save(STATE);
    const clock = new ManualClock();
    const d = new ViewsDriver(1, { voters: [1, 2, 3] }, { clock, store, send: () => {} });
    expect(d.protocolState.currentTerm).toBe(7);
    expect(d.protocolState.log).toEqual(STATE.log);
    d.close();
    writeFileSync(path, '{"format":"dmsg-views/1"');
    expect(() => new ViewsDriver(1, { voters: [1, 2, 3] }, { clock, store, send: () => {} })).toThrow(ViewsStoreError);
  });

  it('a save failure on disk is a ViewsStoreError VIEWS_STORE_IO', () => {
    const s = new FileViewsStore(join(tmp(), 'no-such-dir', 'views.json'), [1, 2, 3]);
    expect(() => s.save(STATE)).toThrow(expect.objectContaining({ code: 'VIEWS_STORE_IO' }));
  });

  it('memory store keeps a copy', () => {
    const m = new MemoryViewsStore();
    expect(m.load()).toBeNull();
    const log = [...STATE.log];
    m.save({ ...STATE, log });
    log.pop();
    expect(m.load()).toEqual(STATE);
  });
});

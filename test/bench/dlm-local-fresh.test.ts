/**
 * bench/dlm-local-fresh.ts at a small scale: the fresh process measures the
 * local-master cycles and the Map baseline and answers; a bad argument comes
 * back as an error (the bench reports it as a failed row), never a hang.
 */
import { describe, expect, it } from 'vitest';
import { measureLocalFresh } from '../../bench/dlm-local-fresh.ts';

// The child runs TypeScript: give it tsx's loader whatever runs this test.
const TSX = ['--import', 'tsx', '--conditions=dmsg-mesh-source'];

describe('bench/dlm-local-fresh', () => {
  it('measures both rates in a forked process', async () => {
    const r = await measureLocalFresh(0.05, 'cpu', TSX);
    expect(r.local).toBeGreaterThan(0);
    expect(r.map).toBeGreaterThan(0);
    expect(Number.isFinite(r.local) && Number.isFinite(r.map)).toBe(true);
  }, 60_000);

  it('rejects with the worker\'s reason for a bad clock', async () => {
    await expect(measureLocalFresh(0.05, 'sundial', TSX)).rejects.toThrow(/unknown clock sundial/);
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { MAX_ROUNDS, roundsFromEnv } from '../../bench/rounds-env.ts';

describe('DLM_BENCH_ROUNDS: roundsFromEnv', () => {
  it('takes the default when unset or blank', () => {
    expect(roundsFromEnv('X', undefined, 15)).toEqual({ ok: true, rounds: 15 });
    expect(roundsFromEnv('X', '', 15)).toEqual({ ok: true, rounds: 15 });
    expect(roundsFromEnv('X', '  ', 7)).toEqual({ ok: true, rounds: 7 });
  });

  it('takes a whole number from 1 to the maximum', () => {
    expect(roundsFromEnv('X', '1', 15)).toEqual({ ok: true, rounds: 1 });
    expect(roundsFromEnv('X', '5', 15)).toEqual({ ok: true, rounds: 5 });
    expect(roundsFromEnv('X', String(MAX_ROUNDS), 15)).toEqual({ ok: true, rounds: MAX_ROUNDS });
  });

  it('refuses anything else with a reason naming the variable and the value, never a throw', () => {
    for (const bad of ['0', '-3', '2.5', 'abc', String(MAX_ROUNDS + 1), 'Infinity', '1e9', 'NaN']) {
      const r = roundsFromEnv('DLM_BENCH_ROUNDS', bad, 15);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) {
        expect(r.reason).toContain('DLM_BENCH_ROUNDS');
        expect(r.reason).toContain(JSON.stringify(bad));
      }
    }
  });
});

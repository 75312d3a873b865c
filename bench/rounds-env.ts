/**
 * A round count from the environment (DLM_BENCH_ROUNDS for the DLM's
 * two-process rows): a whole number from 1 to 1000, or the default when
 * unset or empty. A bad value is a reason, not a throw: the benchmark
 * reports its rows as failed with it.
 */
export type RoundsResult = { ok: true; rounds: number } | { ok: false; reason: string };

export const MAX_ROUNDS = 1000;

export function roundsFromEnv(name: string, value: string | undefined, fallback: number): RoundsResult {
  if (value === undefined || value.trim() === '') return { ok: true, rounds: fallback };
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_ROUNDS) return { ok: false, reason: `${name} must be a whole number from 1 to ${MAX_ROUNDS}, got ${JSON.stringify(value)}` };
  return { ok: true, rounds: n };
}

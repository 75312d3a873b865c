/**
 * Random lock traffic on one DLM node, for the DLM-across-hosts scenario:
 * `workers` loops, each taking a random resource of `resources` in a random
 * mode, holding it a random while, unlocking, pausing, again. Every step is
 * one record (a JSON line of the host program's stdout), from the public
 * API's results only: request, grant (with the lock's fencing token and the
 * lockspace generation where the DLM has them), failure (with the error
 * code), unlock, unlocked. Seeded: the same seed gives the same choices.
 */
import type { DlmLockspace } from '../../src/services/dlm/api.ts';
import type { ModeName } from '../../src/services/dlm/constants.ts';

export interface WorkloadOptions {
  /** Loops run at once on this node. @default 2 */
  workers?: number;
  /** Resource names r0..r(n-1). @default 6 */
  resources?: number;
  /** Seed of the choices. @default 1 */
  seed?: number;
  /** How long a granted lock is held, ms: uniform in [min, max]. @default [5, 40] */
  holdMs?: readonly [number, number];
  /** Pause between one lock's end and the next request, ms: uniform in [0, max]. @default 20 */
  thinkMs?: number;
  /** A request not granted by then is cancelled (and recorded as failed with its code), ms. @default 3000 */
  requestTimeoutMs?: number;
}

/** One record of the workload (the host program adds `t` and `host`). */
export type WorkloadRecord =
  | { ev: 'request'; w: number; op: number; res: string; mode: ModeName }
  | { ev: 'grant'; w: number; op: number; res: string; mode: ModeName; lkid: number; fence: number | null; gen: number | null }
  | { ev: 'fail'; w: number; op: number; res: string; mode: ModeName; code: string }
  | { ev: 'unlock'; w: number; op: number; res: string; lkid: number }
  | { ev: 'unlocked'; w: number; op: number; res: string; lkid: number; code: string | null };

/** Modes drawn, with weights: mostly EX and PR, some PW and CR. */
const MODES: readonly (readonly [ModeName, number])[] = [['EX', 40], ['PW', 15], ['PR', 30], ['CR', 15]];

/** mulberry32: a small seeded PRNG, [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pickMode(r: number): ModeName {
  const total = MODES.reduce((n, [, w]) => n + w, 0);
  let x = r * total;
  for (const [m, w] of MODES) {
    if (x < w) return m;
    x -= w;
  }
  return 'EX';
}

const codeOf = (err: unknown): string => (typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : String((err as Error)?.message ?? err));

/** Run the workload until `signal` aborts; resolves when every worker has ended its lock. */
export async function runWorkload(ls: DlmLockspace, record: (r: WorkloadRecord) => void, signal: AbortSignal, opts: WorkloadOptions = {}): Promise<void> {
  const workers = opts.workers ?? 2;
  const resources = opts.resources ?? 6;
  const [holdMin, holdMax] = opts.holdMs ?? [5, 40];
  const think = opts.thinkMs ?? 20;
  const timeout = opts.requestTimeoutMs ?? 3000;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const worker = async (w: number): Promise<void> => {
    const rand = prng((opts.seed ?? 1) * 1000 + w);
    for (let op = 1; !signal.aborted; op++) {
      const res = `r${Math.floor(rand() * resources)}`;
      const mode = pickMode(rand());
      const hold = holdMin + Math.floor(rand() * (holdMax - holdMin + 1));
      const pause = Math.floor(rand() * (think + 1));
      record({ ev: 'request', w, op, res, mode });
      let lk;
      try {
        lk = await ls.lock(res, mode, { signal: AbortSignal.timeout(timeout) });
      } catch (err) {
        record({ ev: 'fail', w, op, res, mode, code: codeOf(err) });
        await sleep(pause);
        continue;
      }
      const fence = (lk as unknown as { fence?: unknown }).fence;
      const gen = (ls.raw as unknown as { generation?: unknown }).generation;
      record({ ev: 'grant', w, op, res, mode, lkid: lk.lkid, fence: typeof fence === 'number' ? fence : null, gen: typeof gen === 'number' ? gen : null });
      await sleep(hold);
      record({ ev: 'unlock', w, op, res, lkid: lk.lkid });
      try {
        await lk.unlock();
        record({ ev: 'unlocked', w, op, res, lkid: lk.lkid, code: null });
      } catch (err) {
        record({ ev: 'unlocked', w, op, res, lkid: lk.lkid, code: codeOf(err) });
      }
      await sleep(pause);
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
}

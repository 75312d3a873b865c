/**
 * A/B of midcomms' CPU on a request/reply path between two source trees in
 * ONE process (not part of `npm run bench`): each tree gets its own pair of
 * in-process Routers (memory link, or `--tcp`: TCP on 127.0.0.1) with
 * midcomms on both and a raw echo service. A round trip is an 88-byte DLM
 * MSG from router 1's session, read by router 0's `Session.read()` reader,
 * which posts it back (`tryPost`, as the DLM's endpoint sends), until router
 * 1's reader has it; the raw round trip is the same aux echoed on one
 * transaction. Rounds alternate A B, B A, ... (load hits both alike); each
 * round runs raw then midcomms for one tree. Prints per tree the CPU µs per
 * raw round trip, per midcomms round trip, and midcomms' excess (the
 * difference: midcomms' own CPU for two messages, both ends, plus its ACKs),
 * median and least over rounds, and the median per-round B/A of the excess.
 * Both ends are in this process, so a figure is the CPU of both.
 *
 * `--fake`: midcomms alone over fake transactions (see `setupFake`).
 *
 * Each tree runs its own instance of the harness (midcomms-ab-tree.mts).
 *
 * Make the other tree with `git archive <commit> | tar -x -C DIR`, a copy of
 * package.json and tsconfig.json, and `cp -al <repo>/node_modules DIR/`.
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/midcomms-ab.mts TREE_A TREE_B [ROUNDS] [MS] [--tcp | --fake]
 */
import { resolve } from 'node:path';
import { loadavg } from 'node:os';

const roots = process.argv.slice(2, 4).map((r) => resolve(r));
if (roots.length !== 2) {
  process.stderr.write('usage: midcomms-ab.mts TREE_A TREE_B [ROUNDS] [MS] [--tcp]\n');
  process.exit(2);
}
const nums = process.argv.slice(4).filter((a) => !a.startsWith('--')).map(Number);
const ROUNDS = nums[0] ?? 20;
const MS = nums[1] ?? 100;
const tcp = process.argv.includes('--tcp');
/** Midcomms alone over fake transactions (see midcomms-ab-tree.mts). */
const fake = process.argv.includes('--fake');

interface Runner {
  raw(ms: number): Promise<number>;
  mc(ms: number): Promise<number>;
}

// Each tree's harness is its own module instance (the query string): no
// function of the harness is shared between the trees, so neither tree's
// calls make the other's call sites polymorphic (a shared harness made the
// tree set up second read 20-70% slower in A/A runs).
const here = new URL('./midcomms-ab-tree.mts', import.meta.url).href;
const setup = async (root: string, k: number): Promise<Runner> => (await import(`${here}?tree=${k}`)).setup(root, { tcp, fake }) as Promise<Runner>;
const trees = [await setup(roots[0]!, 0), await setup(roots[1]!, 1)];
for (const t of trees) {
  await t.raw(200); // warm-up
  await t.mc(300);
}
const raw: number[][] = [[], []];
const mc: number[][] = [[], []];
for (let i = 0; i < ROUNDS; i++) {
  // A B, then B A: neither always runs first.
  for (const k of i % 2 ? [1, 0] : [0, 1]) {
    raw[k]!.push(await trees[k]!.raw(MS));
    mc[k]!.push(await trees[k]!.mc(MS));
  }
}
const med = (x: number[]): number => {
  const s = [...x].sort((p, q) => p - q);
  return s[s.length >> 1]!;
};
const f = (x: number[]): string => `median ${med(x).toFixed(2)} min ${Math.min(...x).toFixed(2)}`;
const excess = [0, 1].map((k) => mc[k]!.map((m, i) => m - raw[k]![i]!));
const ratios = excess[0]!.map((e, i) => excess[1]![i]! / e);
process.stdout.write(`${fake ? 'fake transactions' : tcp ? 'tcp' : 'memory'}, ${ROUNDS} rounds of ${MS} ms, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}; CPU us per round trip (both ends):\n`);
for (const k of [0, 1]) {
  process.stdout.write(`  ${k ? 'B' : 'A'} ${roots[k]}: raw ${f(raw[k]!)}; midcomms ${f(mc[k]!)}; excess ${f(excess[k]!)}\n`);
}
process.stdout.write(`  B/A of the excess, per-round median ${med(ratios).toFixed(3)}\n`);
process.exit(0);

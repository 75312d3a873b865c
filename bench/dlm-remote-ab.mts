/**
 * A/B of the remote DLM path between two source trees in ONE process (not
 * part of `npm run bench`): each tree gets its own pair of in-process
 * Routers (memory link, or `--tcp`: TCP on 127.0.0.1), midcomms, the
 * MidcommsEndpoint and a lockspace mastered on one side; rounds of
 * sequential EX lock+unlock cycles (PAR=n: n resources in flight) alternate
 * A B, B A, ..., in process CPU time, so load on a shared machine hits both
 * alike. Prints the CPU µs per cycle of each and the median per-round B/A.
 * Each tree runs its own instance of the harness (dlm-remote-ab-tree.mts).
 * Make the other tree with e.g. `git archive <commit> | tar -x -C DIR` and
 * a node_modules symlink.
 *
 *   npx tsx --conditions=dmsg-mesh-source bench/dlm-remote-ab.mts TREE_A TREE_B [ROUNDS] [MS] [--tcp]
 */
import { resolve } from 'node:path';

const roots = process.argv.slice(2, 4).map((r) => resolve(r));
if (roots.length !== 2) {
  process.stderr.write('usage: dlm-remote-ab.mts TREE_A TREE_B [ROUNDS] [MS] [--tcp]\n');
  process.exit(2);
}
const ROUNDS = Number(process.argv[4] ?? 30);
const MS = Number(process.argv[5] ?? 100);
const tcp = process.argv.includes('--tcp');
// Each tree's harness is its own module instance (the query string): see dlm-remote-ab-tree.mts.
const treeModule = new URL('./dlm-remote-ab-tree.mts', import.meta.url).href;
async function pair(root: string): Promise<(ms: number) => Promise<number>> {
  const mod = (await import(`${treeModule}?tree=${encodeURIComponent(root)}`)) as { pair(root: string, tcp: boolean): Promise<(ms: number) => Promise<number>> };
  return mod.pair(root, tcp);
}
const A = await pair(roots[0]!);
const B = await pair(roots[1]!);
await A(300); // warm-up
await B(300);
const a: number[] = [], b: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  // A B, then B A: neither always runs first.
  if (i % 2) {
    b.push(await B(MS));
    a.push(await A(MS));
  } else {
    a.push(await A(MS));
    b.push(await B(MS));
  }
}
const med = (x: number[]): number => {
  const s = [...x].sort((p, q) => p - q);
  return s[s.length >> 1]!;
};
const ratios = a.map((x, i) => b[i]! / x);
console.log(`${tcp ? 'tcp' : 'memory'} CPU us per cycle: A ${roots[0]} median ${med(a).toFixed(2)} min ${Math.min(...a).toFixed(2)}; B ${roots[1]} median ${med(b).toFixed(2)} min ${Math.min(...b).toFixed(2)}; B/A per round median ${med(ratios).toFixed(3)}`);
process.exit(0);

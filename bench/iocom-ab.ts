/**
 * A/B of two builds of the iocom in one process (for before/after tables):
 * `npx tsx bench/iocom-ab.ts /path/to/other/checkout [CASE...]` runs the
 * iocom-micro cases of this checkout (B) and of the other (A), rounds
 * interleaved (A, B, A, B ...), and prints min and median CPU µs per
 * operation of each. Env: MICRO_OPS, MICRO_ROUNDS as iocom-micro.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { makeCases, type IocomClass } from './iocom-micro.ts';
import { Iocom } from '../src/iocom/iocom.ts';

const other = process.argv[2];
if (other === undefined) throw new Error('usage: npx tsx bench/iocom-ab.ts OTHER_CHECKOUT [CASE...]');
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 9);
const A = ((await import(pathToFileURL(join(other, 'src/iocom/iocom.ts')).href)) as { Iocom: IocomClass }).Iocom;
const casesA = makeCases(A);
const casesB = makeCases(Iocom as unknown as IocomClass);
const names = process.argv.length > 3 ? process.argv.slice(3) : ['send64', 'recv64', 'rpc1', 'rpc100'];
const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
for (const name of names) {
  const ra = casesA[name]!();
  const rb = casesB[name]!();
  await ra();
  await rb();
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [round, out] of [[ra, a], [rb, b]] as const) {
      const c0 = cpu();
      const n = await round();
      out.push((cpu() - c0) / n);
    }
  }
  const s = (v: number[]): string => {
    v.sort((x, y) => x - y);
    return `${v[0]!.toFixed(3)} / ${v[v.length >> 1]!.toFixed(3)}`;
  };
  process.stdout.write(`${name.padEnd(8)} A (other) ${s(a)}   B (this) ${s(b)}   µs CPU min / median\n`);
}

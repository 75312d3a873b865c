#!/usr/bin/env node
// The DLM-across-hosts runs over a range of seeds, one at a time (docs/hosts.md, "Seed sweeps"):
//
//   npm run test:hosts:dlm-seeds -- [--runs kill,partition] [--seeds 1-8] [--events N]
//
// For each run (test/hosts/dlm-kill.test.ts or dlm-partition.test.ts) and seed it starts
// `vitest run` with DMSG_HOSTS=1 DLM_HOSTS_SEED=n (and DLM_HOSTS_EVENTS=N when given), keeps
// its whole output in the report directory ($DMSG_HOSTS_REPORT_DIR, default
// $TMPDIR/dmsg-hosts-report) as seeds-<run>-seed<n>-<time>.out, and prints one table row:
// pass/fail, wall time, the load average before and after, the plan, the history checker's
// verdict, the run's longest wait (how close it came to the 60 s safety net), and on a
// failure the first error line and the directory with every host's records, logs and
// lockspace dumps. Runs never overlap. Exits 1 if any run failed, 2 on bad arguments.
// Needs root like npm run test:hosts (the tests skip, saying why, otherwise: counted as skipped).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const FILES = { kill: 'test/hosts/dlm-kill.test.ts', partition: 'test/hosts/dlm-partition.test.ts', none: 'test/hosts/dlm.test.ts' };
/** Safety net per run (a normal run takes 0.5-3 minutes): the test's own nets fail it long before. */
const RUN_LIMIT_MS = 15 * 60_000;

function usage(msg) {
  console.error(`hosts-dlm-seeds: ${msg}\nusage: npm run test:hosts:dlm-seeds -- [--runs kill,partition] [--seeds 1-8|3,5,9] [--events N]`);
  process.exit(2);
}

function parseSeeds(s) {
  const out = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) usage(`bad seeds "${s}"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 1000) usage(`bad seed range "${part}"`);
    for (let x = a; x <= b; x++) out.push(x);
  }
  return out;
}

const args = process.argv.slice(2);
let runs = ['kill', 'partition'];
let seeds = parseSeeds('1-8');
let events = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const v = args[i + 1];
  if (a === '--runs' && v) { runs = v.split(',').map((x) => x.trim()); i++; }
  else if (a === '--seeds' && v) { seeds = parseSeeds(v); i++; }
  else if (a === '--events' && v) { events = Number(v); i++; }
  else usage(`unknown argument "${a}"`);
}
for (const r of runs) if (!(r in FILES)) usage(`unknown run "${r}" (kill, partition, none)`);
if (events !== null && !(Number.isInteger(events) && events >= 1 && events <= 50)) usage('--events takes 1..50');

const dir = process.env.DMSG_HOSTS_REPORT_DIR ?? join(tmpdir(), 'dmsg-hosts-report');
mkdirSync(dir, { recursive: true });
// eslint-disable-next-line no-control-regex
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
const cell = (s) => String(s).replace(/\|/g, '/').replace(/\s+/g, ' ').trim();

const rows = [];
let failed = 0;
console.log(`DLM across hosts: runs ${runs.join(', ')}, seeds ${seeds.join(' ')}${events === null ? '' : `, ${events} faults each`}; outputs in ${dir}`);
for (const run of runs) {
  for (const seed of seeds) {
    const env = { ...process.env, DMSG_HOSTS: '1', DLM_HOSTS_SEED: String(seed), DMSG_HOSTS_REPORT_DIR: dir };
    if (events !== null) env.DLM_HOSTS_EVENTS = String(events);
    const l0 = load();
    const t0 = Date.now();
    const r = spawnSync('npx', ['vitest', 'run', FILES[run]], { env, encoding: 'utf8', timeout: RUN_LIMIT_MS, killSignal: 'SIGTERM', maxBuffer: 256 * 1024 * 1024 });
    const wall = Math.round((Date.now() - t0) / 1000);
    const out = plain(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    const file = join(dir, `seeds-${run}-seed${seed}-${new Date(t0).toISOString().replace(/[:.]/g, '')}.out`);
    writeFileSync(file, out);
    const passed = /Tests\s+1 passed/.test(out);
    const skipped = /Tests\s+1 skipped/.test(out);
    const plan = /plan (\[.*\])/.exec(out)?.[1] ?? '';
    const short = plan ? JSON.parse(plan).map((f) => (f.kind === 'kill' ? `kill ${f.host}${f.restart === 'at-once' ? '!' : ''}` : `cut ${f.side.join('+')}`)).join(', ') : '';
    const checker = /History checker over (\d+) events \(.*?\): ([^.]*)\./.exec(out);
    const views = /views committed: (\d+)/.exec(out)?.[1] ?? '';
    const longest = /Longest wait: (\d+) ms \(([^;]*);/.exec(out);
    const error = passed || skipped ? '' : (/(?:Error|AssertionError): (.*)/.exec(out)?.[1] ?? (r.error ? String(r.error.message) : `exit ${r.status}`)).slice(0, 300);
    const kept = /records and log in (\S+)\)/.exec(out)?.[1] ?? '';
    const verdict = passed ? 'pass' : skipped ? 'skipped' : 'FAIL';
    if (!passed && !skipped) failed++;
    const row = { run, seed, verdict, wall, l0, l1: load(), short, events: checker?.[1] ?? '', checker: checker?.[2] ?? '', views, wait: longest ? `${longest[1]} (${longest[2]})` : '', error, kept, file };
    rows.push(row);
    console.log(`${run} seed ${seed}: ${verdict} in ${wall} s (load ${l0} -> ${row.l1}); ${short}; checker: ${row.checker || '-'}${error ? `; ${error}` : ''}${kept ? `; kept ${kept}` : ''}`);
  }
}
console.log('\n| run | seed | faults (! = restarted at once) | verdict | wall s | load before / after (1, 5, 15 min) | history events | views | checker | longest wait ms | failure |');
console.log('|---|---:|---|---|---:|---|---:|---:|---|---|---|');
for (const r of rows) console.log(`| ${r.run} | ${r.seed} | ${cell(r.short)} | ${r.verdict} | ${r.wall} | ${r.l0} / ${r.l1} | ${r.events} | ${r.views} | ${cell(r.checker)} | ${cell(r.wait)} | ${cell(r.error)}${r.kept ? ` (${r.kept})` : ''} |`);
const skippedN = rows.filter((r) => r.verdict === 'skipped').length;
console.log(`\n${rows.length - failed - skippedN} passed, ${failed} failed, ${skippedN} skipped (of ${rows.length} runs)`);
process.exit(failed > 0 ? 1 : 0);

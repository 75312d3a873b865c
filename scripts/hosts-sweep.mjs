#!/usr/bin/env node
// After a hosts run (.ci/run): find network namespaces the hosts harness left behind
// (test/hosts/netns.ts names them dmh-<pid>-..., <pid> being the process that made them),
// SIGKILL every process inside those whose maker is gone, and delete them. Prints what it
// removed and exits 1 when it removed anything (a run must never leave any), 0 otherwise.
// Only names starting with dmh- whose maker is dead are ever touched.
import { execFileSync } from 'node:child_process';

const ip = (args) => {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
};
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};
const left = ip(['netns', 'list'])
  .split('\n')
  .map((l) => l.trim().split(/\s+/)[0] ?? '')
  .filter((n) => /^dmh-\d+-/.test(n) && !alive(Number(n.split('-')[1])));
let procs = 0;
for (const ns of left) {
  for (const pid of ip(['netns', 'pids', ns]).split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
      procs++;
    } catch {
      // gone already
    }
  }
  ip(['netns', 'del', ns]);
}
if (left.length > 0) {
  console.log(`hosts sweep: removed ${left.length} namespaces left behind (${procs} processes killed): ${left.join(' ')}`);
  process.exit(1);
}
console.log('hosts sweep: no namespace or process left behind');

/**
 * In-process micro-benchmark of one relay hop, in CPU time per round trip:
 * client Router — relay Router — server Router over memory pairs (no
 * sockets), `open(span, cmd, {delete})` → the server's `reply(0)`, 100 in
 * flight. Not registered in bench/run.ts: run `npx tsx bench/relay-micro.ts`
 * (profile with `node --import tsx --cpu-prof bench/relay-micro.ts`).
 * Env: MICRO_OPS (round trips per round, default 100000), MICRO_ROUNDS (default 7).
 * Prints min and median of the rounds' CPU µs per round trip (every router's work).
 */
import { memoryPair } from '../src/transport/memory.ts';
import { startNode } from './relay-node.ts';
import { CMD, SERVICE } from './relay-shared.ts';
import { Router } from '../src/span/router.ts';
import { IOCOM_OPTIONS } from './relay-shared.ts';

const OPS = Number(process.env.MICRO_OPS ?? 100_000);
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 7);
const INFLIGHT = 100;
// A safety net: a hung round ends the process instead of stalling it.
setTimeout(() => {
  process.stderr.write('relay-micro: no progress within 120 s\n');
  process.exit(1);
}, 120_000).unref();

const cpu = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const server = await startNode('server', 'server', false);
const relay = await startNode('relay', 'r1', false);
{
  const [a, b] = memoryPair();
  server.router.attach(b);
  await relay.connectStream(a);
}
const client = new Router({ name: 'client', localRnss: 100, iocom: IOCOM_OPTIONS });
{
  const [a, b] = memoryPair();
  relay.router.attach(b);
  client.attach(a);
}
const span = await client.waitForSpan(SERVICE, AbortSignal.timeout(20_000));
if (span.path.length !== 2) throw new Error(`expected the span one relay away, path ${span.path.length}`);

let done = 0;
let target = 0;
let finish: (() => void) | undefined;
const opts = { delete: true };
const observer = {
  next(): void {},
  complete(): void {
    done++;
    if (done < target) client.open(span, CMD, opts).rx$.subscribe(observer);
    else if (finish !== undefined) {
      const f = finish;
      finish = undefined;
      f();
    }
  },
  error(e: Error): void {
    throw e;
  },
};

async function round(): Promise<number> {
  const start = done;
  target = done + OPS;
  await new Promise<void>((resolve) => {
    finish = resolve;
    for (let i = 0; i < INFLIGHT; i++) client.open(span, CMD, opts).rx$.subscribe(observer);
  });
  // Let the last round's extra transactions finish before the next round starts.
  while (done < target + INFLIGHT - 1) await new Promise((r) => setImmediate(r));
  return done - start;
}

await round();
const us: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const c0 = cpu();
  const n = await round();
  us.push((cpu() - c0) / n);
}
us.sort((a, b) => a - b);
process.stdout.write(`relay rpc100 ${us[0]!.toFixed(3)} µs/round trip CPU min (median ${us[us.length >> 1]!.toFixed(3)})\n`);
await client.close();
await relay.close();
await server.close();
process.exit(0);

/**
 * Three `dmsg relay` processes in a line A - B - C on loopback TCP: a
 * service advertised on A is found from C and used through B; SIGKILL on B
 * withdraws the span from C's table; SIGTERM on A and C exits 0.
 * Every wait is on an output line or a span event, with a safety timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { filter, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Router } from '../../src/span/router.ts';
import { connectTcp } from '../../src/transport/index.ts';
import { DMSG, DMSG_PEER } from '../../src/wire/constants.ts';
import { lines, runCli } from '../cli/io.ts';
import { dmsgCliScript } from '../helpers/dmsg-cli.ts';

/** The CLI each relay runs: this run's prebuilt bundle of its sources (test/helpers/dmsg-cli.ts). */
const CLI = dmsgCliScript();
/** Safety net only: every wait below ends on an event long before this. */
const SAFETY_MS = 20_000;

interface RelayProcess {
  readonly name: string;
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  waitFor(stream: 'stdout' | 'stderr', re: RegExp): Promise<RegExpMatchArray>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: RelayProcess[] = [];

function spawnRelay(name: string, args: string[]): RelayProcess {
  const child = spawn(process.execPath, [CLI, 'relay', '--name', name, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { stdout: '', stderr: '' };
  const waiters: Array<{ stream: 'stdout' | 'stderr'; re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  const scan = (): void => {
    for (const w of [...waiters]) {
      const m = text[w.stream].split('\n').map((l) => l.match(w.re)).find((x) => x !== null);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => { text.stdout += s; scan(); });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => { text.stderr += s; scan(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const proc: RelayProcess = {
    name,
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    exited,
    waitFor(stream, re) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no ${stream} line matching ${re} within ${SAFETY_MS} ms\nstdout:\n${text.stdout}\nstderr:\n${text.stderr}`)), SAFETY_MS);
        waiters.push({ stream, re, resolve: (m) => { clearTimeout(timer); resolve(m); } });
        scan();
        void exited.then(() => {
          const i = waiters.findIndex((w) => w.re === re);
          if (i >= 0) { waiters.splice(i, 1); clearTimeout(timer); reject(new Error(`${name} exited before printing ${re}\nstderr:\n${text.stderr}`)); }
        });
      });
    },
  };
  started.push(proc);
  return proc;
}

function withSafety<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`safety timeout: ${what}`)), SAFETY_MS); })]).finally(() => clearTimeout(timer));
}

afterAll(async () => {
  for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(started.map((p) => p.exited));
});

describe('dmsg relay processes A - B - C', () => {
  it('finds and uses a service across B, loses it when B is killed, and stops cleanly on SIGTERM', async () => {
    const a = spawnRelay('A', ['--listen', '127.0.0.1:0', '--advertise', 'svc/a1']);
    const addrA = (await a.waitFor('stdout', /^listening (127\.0\.0\.1:\d+)$/))[1]!;
    const b = spawnRelay('B', ['--listen', '127.0.0.1:0', '--connect', addrA, '--backoff-min-ms', '50']);
    const addrB = (await b.waitFor('stdout', /^listening (127\.0\.0\.1:\d+)$/))[1]!;
    const c = spawnRelay('C', ['--listen', '127.0.0.1:0', '--connect', addrB, '--backoff-min-ms', '50', '--backoff-max-ms', '200']);
    const addrC = (await c.waitFor('stdout', /^listening (127\.0\.0\.1:\d+)$/))[1]!;

    // The span crosses B: at C it is one relay away.
    await c.waitFor('stderr', /\[C\] span up svc\/a1 dist=1 via=c\d+$/);
    expect(c.stderr()).toContain('links run open (unauthenticated)');

    // `dmsg spans` against C (in-process): the service, two hops from C's client.
    const spans = await runCli(['spans', addrC, '--json', '--until-count', '1', '--wait-ms', String(SAFETY_MS)]);
    expect(spans.code).toBe(0);
    const rows = lines(spans.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([expect.objectContaining({ service: 'svc', instance: 'a1', dist: 2, via: 'C' })]);

    // A client on C uses it: the transaction goes C -> B -> A and the echo comes back.
    const client = new Router({ name: 'it-client', peerType: DMSG_PEER.CLIENT });
    const [host, port] = addrC.split(':') as [string, string];
    client.attach(await connectTcp({ host, port: Number(port) }));
    try {
      const span = await client.waitForSpan('svc', AbortSignal.timeout(SAFETY_MS));
      expect(span.dist).toBe(2);
      expect(span.node).toBe(rows[0]!['node']);
      const tx = client.open(span, DMSG.DBG_SHELL, { aux: new TextEncoder().encode('through B'), delete: true });
      const msgs = await withSafety(lastValueFrom(tx.rx$.pipe(toArray())), 'echo reply');
      expect(msgs.filter((m) => m.aux.length > 0).map((m) => new TextDecoder().decode(m.aux))).toEqual(['through B']);
      expect(msgs.at(-1)!.header.error).toBe(0);

      // SIGKILL on B: no goodbye. C's link drops, its span table loses svc, and so does its client.
      const gone = firstValueFrom(client.spans$.pipe(filter((e) => e.type === 'down' && e.span.service === 'svc')));
      b.child.kill('SIGKILL');
      expect((await b.exited).signal).toBe('SIGKILL');
      await c.waitFor('stderr', /\[C\] span down svc\/a1$/);
      await withSafety(gone, "client sees svc go down");
      expect(client.spans('svc')).toEqual([]);
      await a.waitFor('stderr', /\[A\] link c\d+ down \(B\)/);
      // C keeps redialling B, with backoff.
      await c.waitFor('stderr', /dial 127\.0\.0\.1:\d+ failed \(\d+ in a row\): .*retry in \d+ ms$/);
      const tree = await runCli(['shell', addrC, 'tree']);
      expect(tree.stdout).toBe('(no spans)\n');
    } finally {
      await client.close();
    }

    for (const p of [a, c]) p.child.kill('SIGTERM');
    for (const p of [a, c]) {
      const r = await withSafety(p.exited, `${p.name} exits after SIGTERM`);
      expect(r, `${p.name} stderr:\n${p.stderr()}`).toEqual({ code: 0, signal: null });
      expect(p.stderr()).toMatch(/SIGTERM: withdrawing spans, closing links/);
      expect(p.stderr()).toMatch(/stopped\n$/);
    }
  });
});

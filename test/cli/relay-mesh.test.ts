/** dmsg relay and the client commands, in-process, over loopback TCP, TLS and Unix sockets. */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/cli/keys.ts';
import { startRelay, type RelayHandle } from '../../src/cli/relay-daemon.ts';
import { lines, runCli, startCli } from './io.ts';

const dir = mkdtempSync(join(tmpdir(), 'dmsg-relay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;

function spanUp(relay: RelayHandle, service: string): Promise<unknown> {
  if (relay.router.spans(service).some((s) => s.via !== null)) return Promise.resolve();
  return firstValueFrom(relay.router.spans$.pipe(filter((e) => e.type !== 'down' && e.span.service === service && e.span.via !== null)));
}

describe('dmsg relay (in-process) with spans, call, ping and shell', () => {
  it('two relays link, the clients see and use the span, shutdown withdraws and exits 0', async () => {
    const stopA = new AbortController();
    const stopB = new AbortController();
    const a = startCli(['relay', '--name', 'A', '--listen', '127.0.0.1:0', '--advertise', 'echo/a1'], stopA.signal);
    const addrA = (await a.waitForStdout(/^listening (\S+)$/))[1]!;
    const b = startCli(['relay', '--name', 'B', '--listen', '127.0.0.1:0', '--connect', addrA, '--backoff-min-ms', '20'], stopB.signal);
    const addrB = (await b.waitForStdout(/^listening (\S+)$/))[1]!;
    expect(addrB).toMatch(/^127\.0\.0\.1:\d+$/);
    await b.waitForStderr(/\[B\] span up echo\/a1 dist=0/);
    expect(a.stderr()).toContain('links run open (unauthenticated)');

    const spans = await runCli(['spans', addrB, '--json', '--until-count', '1', '--wait-ms', '20000']);
    expect(spans.stderr).toBe('');
    expect(spans.code).toBe(0);
    const rows = lines(spans.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ service: 'echo', instance: 'a1', dist: 1, via: 'B' });
    expect(rows[0]!['node']).toMatch(/^[0-9a-f-]{36}$/);

    const table = await runCli(['spans', addrB, '--until-count', '1', '--wait-ms', '20000']);
    expect(lines(table.stdout)[0]).toMatch(/^SERVICE +INSTANCE +NODE +DIST +VIA$/);
    expect(lines(table.stdout)[1]).toMatch(/^echo +a1 +[0-9a-f-]{36} +1 +B$/);

    const call = await runCli(['call', addrB, 'echo', 'hello there']);
    expect(call.stderr).toBe('');
    expect(call.code).toBe(0);
    expect(call.stdout).toContain('echo/a1: dist 1 via B');
    expect(call.stdout).toContain('reply: hello there');
    expect(call.stdout).toMatch(/1 reply in [\d.]+ ms/);

    const ping = await runCli(['ping', addrB, '--count', '3', '--interval-ms', '0']);
    expect(ping.code).toBe(0);
    expect(lines(ping.stdout).filter((l) => /seq=\d time=[\d.]+ ms/.test(l))).toHaveLength(3);
    expect(ping.stdout).toMatch(/3 pings: min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms/);

    const tree = await runCli(['shell', addrB, 'tree']);
    expect(tree.code).toBe(0);
    expect(tree.stdout).toMatch(/^cluster echo [0-9a-f-]{36} type=4$/m);
    expect(tree.stdout).toMatch(/dist=0 .*via=c1\(A\)/);
    const links = await runCli(['shell', addrB, 'links']);
    expect(links.stdout).toMatch(/^c1 A [0-9a-f-]{36}$/m);
    const help = await runCli(['shell', addrB, 'help']);
    expect(help.stdout).toContain('tree');

    // SIGTERM on B: it withdraws and exits 0; A sees the link go and the span it had relayed to B is gone.
    stopB.abort('SIGTERM');
    const rb = await b.done;
    expect(rb.code).toBe(0);
    expect(rb.stderr).toMatch(/SIGTERM: withdrawing spans, closing links/);
    expect(rb.stderr).toMatch(/stopped\n$/);
    for (const l of lines(rb.stderr)) expect(l).toMatch(TS);
    await a.waitForStderr(/\[A\] link c\d+ down \(B\)/);
    stopA.abort('SIGTERM');
    expect((await a.done).code).toBe(0);
  });

  it('client commands: unreachable relay exits 1, bad arguments exit 2', async () => {
    const r = await runCli(['ping', '127.0.0.1:1', '--count', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('dmsg ping: CONNECTION_REFUSED: 127.0.0.1:1: connection refused (nothing listens there)\n');
    for (const [argv, re] of [
      [['spans'], /missing relay address/],
      [['ping', 'nowhere'], /missing port/],
      [['ping', '127.0.0.1:1', '--count', '0'], /--count must be/],
      [['shell', '127.0.0.1:1'], /missing shell command/],
      [['call', '127.0.0.1:1'], /missing SERVICE/],
      [['spans', '127.0.0.1:1', '--wait-ms', 'x'], /--wait-ms must be/],
      [['spans', '127.0.0.1:1', '--tls-cert', 'c'], /--tls-cert and --tls-key go together/],
    ] as Array<[string[], RegExp]>) {
      const u = await runCli(argv);
      expect(u.code, argv.join(' ')).toBe(2);
      expect(u.stderr, argv.join(' ')).toMatch(re);
    }
  });

  it('call waits at most --timeout-ms for a span that never comes (exit 1)', async () => {
    const relay = await startRelay({ name: 'lonely', listen: ['127.0.0.1:0'] });
    try {
      const r = await runCli(['call', relay.addresses[0]!, 'nosuch', '--timeout-ms', '200']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("NO_SPAN: no span of 'nosuch' seen");
    } finally {
      await relay.stop();
    }
  });
});

describe('startRelay', () => {
  it('redials a dropped link with backoff and relays the span again', async () => {
    const logB: string[] = [];
    const a = await startRelay({ name: 'a', listen: ['127.0.0.1:0'], advertise: ['svc'] });
    const b = await startRelay({ name: 'b', connect: [a.addresses[0]!], backoff: { minMs: 10, maxMs: 50 }, log: (l) => logB.push(l) });
    try {
      await spanUp(b, 'svc');
      const down = firstValueFrom(b.router.spans$.pipe(filter((e) => e.type === 'down' && e.span.service === 'svc')));
      a.router.links[0]!.iocom.destroy();
      await down;
      await spanUp(b, 'svc');
      expect(b.peers[0]!.dialer.connections).toBe(2);
      expect(logB.some((l) => /link to 127\.0\.0\.1:\d+ closed; redialling with backoff/.test(l))).toBe(true);
      expect(logB.some((l) => /connected to 127\.0\.0\.1:\d+ \(connection 2\)/.test(l))).toBe(true);
      // A permanent cut: no more redials.
      const gone = firstValueFrom(b.router.spans$.pipe(filter((e) => e.type === 'down')));
      expect(b.disconnect(a.addresses[0]!)).toBe(true);
      await gone;
      expect(b.peers[0]!.dialer.state).toBe('stopped');
      expect(b.disconnect('127.0.0.1:1')).toBe(false);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('authenticates links with Ed25519 keys and refuses an unknown key', async () => {
    const ka = generateKeyPairSync('ed25519');
    const kb = generateKeyPairSync('ed25519');
    const kx = generateKeyPairSync('ed25519');
    const logA: string[] = [];
    let onRefused: () => void = () => {};
    const refusedX = new Promise<void>((resolve) => (onRefused = resolve));
    const keyX = fingerprint(kx.publicKey);
    const a = await startRelay({
      name: 'a', listen: ['127.0.0.1:0'], advertise: ['secure'], keyPair: ka, allowedPeerKeys: [kb.publicKey],
      log: (l) => { logA.push(l); if (l.includes('down') && l.includes(`peer key ${keyX} is not among the 1 allowed keys`)) onRefused(); },
    });
    const b = await startRelay({ name: 'b', connect: [a.addresses[0]!], keyPair: kb, allowedPeerKeys: [ka.publicKey] });
    const x = await startRelay({ name: 'x', connect: [a.addresses[0]!], keyPair: kx, backoff: { minMs: 1000, maxMs: 1000 } });
    try {
      await spanUp(b, 'secure');
      expect(logA.some((l) => /peers must prove one of 1 allowed key/.test(l))).toBe(true);
      expect(logA.some((l) => /link c\d+: peer key [0-9a-f]{16} verified/.test(l))).toBe(true);
      // x's key is not allowed: a closes that link after the handshake fails.
      await refusedX;
      expect(x.router.spans('secure')).toHaveLength(0);
    } finally {
      await Promise.all([x.stop(), b.stop()]);
      await a.stop();
    }
  });

  it('listens and dials over a Unix socket', async () => {
    const path = join(dir, 'relay.sock');
    const a = await startRelay({ name: 'a', listen: [`unix:${path}`], advertise: ['u'] });
    try {
      expect(a.addresses).toEqual([`unix:${path}`]);
      const r = await runCli(['call', `unix:${path}`, 'u', 'over unix']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('reply: over unix');
      expect(r.stdout).toContain('u/a: dist 0');
    } finally {
      await a.stop();
    }
  });

  let openssl = true;
  try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); } catch { openssl = false; }
  it.skipIf(!openssl)('links over mutual TLS when given a certificate, key and CA', async () => {
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const tls = { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(cert) };
    const a = await startRelay({ name: 'a', listen: ['127.0.0.1:0'], advertise: ['t'], tls });
    const b = await startRelay({ name: 'b', listen: ['127.0.0.1:0'], connect: [a.addresses[0]!], tls });
    try {
      expect(a.addresses[0]).toMatch(/^tls:127\.0\.0\.1:\d+$/);
      await spanUp(b, 't');
      const r = await runCli(['call', b.addresses[0]!, 't', 'over tls', '--tls-ca', cert, '--tls-cert', cert, '--tls-key', key]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('reply: over tls');
      // Without a client certificate the listener (which has a CA) refuses us.
      const refused = await runCli(['ping', b.addresses[0]!, '--tls-ca', cert, '--count', '1', '--timeout-ms', '2000']);
      expect(refused.code).toBe(1);
      expect(refused.stdout).not.toMatch(/time=/);
      expect(refused.stderr).toMatch(/^dmsg ping: TLS_HANDSHAKE: .*certificate required.*--tls-cert/);
      expect(lines(refused.stderr)).toHaveLength(1);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});

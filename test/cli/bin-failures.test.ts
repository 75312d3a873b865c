/**
 * Issue 15's CLI defects, each against the CLI as a child process (this run's
 * prebuilt bundle of the CLI sources, see ./bin.ts; the `--version` and
 * `npm run dmsg` cases start the real bin/dmsg.js): every failure is one line
 * on stderr naming what failed, with exit status 1 (2 for a bad command line),
 * and the process always exits.
 * Relays and fake peers run in this process on 127.0.0.1 or Unix sockets.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Iocom } from '../../src/iocom/iocom.ts';
import { startRelay, type RelayHandle } from '../../src/cli/relay-daemon.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { runBin, startBin, ROOT } from './bin.ts';

const dir = mkdtempSync(join(tmpdir(), 'dmsg-bin-'));
const servers: Array<{ close(): unknown }> = [];
const relays: RelayHandle[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  await Promise.all(relays.map((r) => r.stop()));
  rmSync(dir, { recursive: true, force: true });
});

function listen(server: net.Server): Promise<string> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)));
}

/** One line on stderr, starting with `dmsg CMD: CODE: `. */
function oneLine(stderr: string, cmd: string, code: string): string {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]!.startsWith(`dmsg ${cmd}: ${code}: `), stderr).toBe(true);
  return lines[0]!;
}

const pem = (k: import('node:crypto').KeyObject, type: 'pkcs8' | 'spki'): string => k.export({ format: 'pem', type }) as string;

let openssl = true;
try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); } catch { openssl = false; }

describe('client commands say what failed (real bin)', () => {
  let keyRelay: string;
  let plainRelay: string;
  const relayKey = generateKeyPairSync('ed25519');
  const allowed = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');

  beforeAll(async () => {
    const a = await startRelay({ name: 'keyed', listen: ['127.0.0.1:0'], advertise: ['echo'], keyPair: relayKey, allowedPeerKeys: [allowed.publicKey] });
    const p = await startRelay({ name: 'plain', listen: ['127.0.0.1:0'], advertise: ['echo/near'] });
    const far = await startRelay({ name: 'far', connect: [p.addresses[0]!], advertise: ['echo/far'] });
    relays.push(a, p, far);
    keyRelay = a.addresses[0]!;
    plainRelay = p.addresses[0]!;
    writeFileSync(join(dir, 'other.key'), pem(other.privateKey, 'pkcs8'));
    writeFileSync(join(dir, 'other.key.pub'), pem(other.publicKey, 'spki'));
  });

  it('call against a relay that needs a key: AUTH_REFUSED, exit 1 (was: exit 13, silent)', async () => {
    const r = await runBin(['call', keyRelay, 'echo', 'hi']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(oneLine(r.stderr, 'call', 'AUTH_REFUSED')).toMatch(/requires LNK_AUTH; give --key/);
  });

  it('spans --json against it: exit 1, nothing on stdout (was: exit 0, empty)', async () => {
    const r = await runBin(['spans', keyRelay, '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    oneLine(r.stderr, 'spans', 'AUTH_REFUSED');
  });

  it('ping with a key the relay does not allow: AUTH_REFUSED', async () => {
    const r = await runBin(['ping', keyRelay, '--key', join(dir, 'other.key')]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr, 'ping', 'AUTH_REFUSED')).toMatch(/not among its allowed keys/);
  });

  it('a closed port: CONNECTION_REFUSED', async () => {
    const s = net.createServer();
    const addr = await listen(s);
    await new Promise((r) => s.close(r));
    const r = await runBin(['ping', addr]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr, 'ping', 'CONNECTION_REFUSED')).toContain(addr);
  });

  it('a silent TCP listener: TIMEOUT after --timeout-ms, and the process exits', async () => {
    const addr = await listen(net.createServer(() => {}));
    const r = await runBin(['call', addr, 'echo', '--timeout-ms', '300']);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr, 'call', 'TIMEOUT')).toMatch(/no DMSG answer within 300 ms/);
  });

  it('an HTTP server: NOT_DMSG, quoting what it sent', async () => {
    const addr = await listen(http.createServer((_q, res) => res.end('hi')));
    for (const cmd of ['spans', 'shell', 'call']) {
      const r = await runBin(cmd === 'shell' ? ['shell', addr, 'tree'] : cmd === 'call' ? ['call', addr, 'echo'] : ['spans', addr]);
      expect(r.code, cmd).toBe(1);
      expect(oneLine(r.stderr, cmd, 'NOT_DMSG')).toMatch(/not speaking DMSG.*HTTP\/1\.1 400/);
    }
  });

  it.skipIf(!openssl)('TLS: plain TCP to a TLS port (NOT_DMSG, hint tls:), no client certificate, no CA (TLS_HANDSHAKE)', async () => {
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    const t = await startRelay({ name: 't', listen: ['127.0.0.1:0'], tls: { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(cert) } });
    relays.push(t);
    const hostPort = t.addresses[0]!.replace(/^tls:/, '');
    const plain = await runBin(['ping', `tcp:${hostPort}`]);
    expect(plain.code).toBe(1);
    expect(oneLine(plain.stderr, 'ping', 'NOT_DMSG')).toMatch(/try tls:HOST:PORT/);
    const noCert = await runBin(['spans', `tls:${hostPort}`, '--tls-ca', cert]);
    expect(noCert.code).toBe(1);
    expect(oneLine(noCert.stderr, 'spans', 'TLS_HANDSHAKE')).toMatch(/certificate required/);
    const noCa = await runBin(['call', `tls:${hostPort}`, 'x']);
    expect(noCa.code).toBe(1);
    expect(oneLine(noCa.stderr, 'call', 'TLS_HANDSHAKE')).toMatch(/self.signed.*--tls-ca/);
    const ok = await runBin(['ping', `tls:${hostPort}`, '--tls-ca', cert, '--tls-cert', cert, '--tls-key', key, '-c', '1']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('call SERVICE picks the nearest instance, SERVICE/INSTANCE the named one; --json on call and ping', async () => {
    // `far` links to `plain`: echo/near is advertised by plain itself, echo/far one hop further.
    const wait = await runBin(['spans', plainRelay, '--until-count', '2', '--wait-ms', '15000', '--json']);
    expect(wait.code).toBe(0);
    const rows = wait.stdout.trim().split('\n').map((l) => JSON.parse(l) as { instance: string; dist: number });
    const near = rows.find((s) => s.instance === 'near')!;
    const far = rows.find((s) => s.instance === 'far')!;
    expect(far.dist).toBeGreaterThan(near.dist);

    const nearest = await runBin(['call', plainRelay, 'echo', 'hi', '--json']);
    expect(nearest.stderr).toBe('');
    expect(nearest.code).toBe(0);
    expect(JSON.parse(nearest.stdout)).toMatchObject({ service: 'echo', instance: 'near', dist: near.dist, replies: ['hi'], error: 0 });
    const named = await runBin(['call', plainRelay, 'echo/far', 'there', '--json']);
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({ service: 'echo', instance: 'far', dist: far.dist, replies: ['there'], error: 0 });
    const none = await runBin(['call', plainRelay, 'echo/nowhere', '--timeout-ms', '300']);
    expect(none.code).toBe(1);
    expect(oneLine(none.stderr, 'call', 'NO_SPAN')).toContain("'echo/nowhere'");

    const ping = await runBin(['ping', plainRelay, '--json', '-c', '3', '--interval-ms', '0']);
    expect(ping.code).toBe(0);
    const p = JSON.parse(ping.stdout) as { count: number; times_ms: number[]; min_ms: number; max_ms: number };
    expect(p.count).toBe(3);
    expect(p.times_ms).toHaveLength(3);
    expect(p.min_ms).toBeLessThanOrEqual(p.max_ms);
  });

  it('shell prints every reply of a node that answers one line per message (as libdmsg does), in order; bogus exits 1', async () => {
    const LINES = ['Cluster echo (type 4)', '    Node 00 n1 (local)', '        dist=0', '    Node 01 n2', '        dist=1', '        dist=2', 'end'];
    const server = net.createServer((socket) => {
      const io = new Iocom(socket, { name: 'fake-libdmsg' });
      io.messages$.subscribe((m) => {
        if ((m.header.cmd & DMSGF.BASECMDMASK) !== DMSG.DBG_SHELL || (m.header.cmd & DMSGF.REPLY) !== 0) return;
        const cmd = new TextDecoder().decode(m.aux).replace(/\0.*$/s, '');
        const out = cmd === 'tree' ? LINES.map((l) => `${l}\n`) : [`unknown command '${cmd}'; try help\n`];
        for (const l of out) io.sendOneWay(DMSG.DBG_SHELL, { reply: true, aux: new TextEncoder().encode(`${l}\0`) });
      });
      io.closed$.subscribe(() => {});
    });
    const addr = await listen(server);
    const tree = await runBin(['shell', addr, 'tree']);
    expect(tree.stderr).toBe('');
    expect(tree.code).toBe(0);
    expect(tree.stdout).toBe(LINES.map((l) => `${l}\n`).join(''));
    const bogus = await runBin(['shell', plainRelay, 'bogus']);
    expect(bogus.code).toBe(1);
    expect(bogus.stdout).toContain("unknown command 'bogus'");
    oneLine(bogus.stderr, 'shell', 'UNKNOWN_SHELL_COMMAND');
  });
});

describe('command-line and relay defects (real bin)', () => {
  it('--until-count 0 and --advertise a/b/c are refused (exit 2); --allow-key refuses a private key; keygen reports the real write error (exit 1)', async () => {
    const until = await runBin(['spans', '127.0.0.1:1', '--until-count', '0']);
    expect(until.code).toBe(2);
    expect(until.stderr).toMatch(/--until-count must be an? (integer|number) in \[1, /);
    const adv = await runBin(['relay', '--listen', '127.0.0.1:0', '--advertise', 'a/b/c']);
    expect(adv.code).toBe(2);
    expect(adv.stderr).toMatch(/--advertise: .*more than one '\/'/);
    const k = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'priv.pem'), pem(k.privateKey, 'pkcs8'));
    for (const argv of [['relay', '--listen', '127.0.0.1:0', '--allow-key', join(dir, 'priv.pem')], ['ping', '127.0.0.1:1', '--allow-key', join(dir, 'priv.pem')]]) {
      const r = await runBin(argv);
      expect(r.code, argv[0]).toBe(2);
      expect(r.stderr, argv[0]).toMatch(/is a private key; give the peer's public key/);
    }
    const kg = await runBin(['keygen', '--out', '/no/such/dir/k']);
    expect(kg.code).toBe(1);
    expect(kg.stderr).toBe("dmsg keygen: WRITE_FAILED: cannot write /no/such/dir/k: ENOENT: no such file or directory, open '/no/such/dir/k'\n");
  });

  it('a stale unix socket left by a killed relay is replaced; a live one is refused', async () => {
    const path = join(dir, 'stale.sock');
    const first = startBin(['relay', '--listen', `unix:${path}`, '--name', 'first']);
    await first.waitFor('stdout', /^listening unix:/);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const second = startBin(['relay', '--listen', `unix:${path}`, '--name', 'second']);
    await second.waitFor('stdout', new RegExp(`^listening unix:${path}$`));
    expect(second.stderr()).toMatch(/removed stale socket .*stale\.sock/);
    const third = await runBin(['relay', '--listen', `unix:${path}`, '--name', 'third']);
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/ADDRESS_IN_USE: .*another process is listening/);
    second.child.kill('SIGTERM');
    expect((await second.done).code).toBe(0);
  });

  it('a relay connecting to itself is warned about', async () => {
    const path = join(dir, 'self.sock');
    const r = startBin(['relay', '--listen', `unix:${path}`, '--connect', `unix:${path}`, '--name', 'loop']);
    await r.waitFor('stderr', /warning: --connect unix:.*self\.sock is this relay's own listen address/);
    await r.waitFor('stderr', /warning: link c\d+ leads back to this relay itself/);
    expect(r.stderr()).toMatch(/warning: link c\d+ leads back to this relay itself \(the peer has our node id\)/);
    r.child.kill('SIGTERM');
    expect((await r.done).code).toBe(0);
  });

  it.skipIf(!openssl)("with mutual TLS the relay does not log 'links run open'", async () => {
    const key = join(dir, 'm.key');
    const cert = join(dir, 'm.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const r = startBin(['relay', '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key, '--tls-ca', cert]);
    await r.waitFor('stdout', /^listening tls:/);
    r.child.kill('SIGTERM');
    const done = await r.done;
    expect(done.code).toBe(0);
    expect(done.stderr).not.toContain('links run open');
    expect(done.stderr).toContain('authenticated by mutual TLS');
  });

  it('SIGTERM to `npm run dmsg -- relay` stops the relay too (no orphan holding the port)', async () => {
    const npm = startBin(['run', '-s', 'dmsg', '--', 'relay', '--listen', '127.0.0.1:0', '--name', 'via-npm'], { cmd: 'npm', cmdArgs: [] });
    const [, addr] = await npm.waitFor('stdout', /^listening (\S+)$/);
    npm.child.kill('SIGTERM');
    const done = await npm.done;
    expect(done.stderr).toMatch(/SIGTERM: withdrawing spans, closing links/);
    expect(done.stderr).toMatch(/stopped\n$/);
    // The port is free again: nobody listens.
    const [host, port] = [addr!.slice(0, addr!.lastIndexOf(':')), Number(addr!.slice(addr!.lastIndexOf(':') + 1))];
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => { s.destroy(); resolve('connected'); });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('demo --relays 7 runs to the end from the bin', async () => {
    const r = await runBin(['demo', '--quick', '--relays', '7']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/echo\('still there\?'\) -> 'still there\?' {2}via 5 relays/);
  });

  it('--version prints the package version (the real bin/dmsg.js)', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runBin(['--version'], undefined, 'bin');
    expect(r.stdout).toBe(`dmsg ${pkg.version}\n`);
    expect(r.code).toBe(0);
  });
});

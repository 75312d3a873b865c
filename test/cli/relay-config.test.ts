import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatEndpoint, parseEndpoint } from '../../src/cli/address.ts';
import { UsageError } from '../../src/cli/command.ts';
import { loadKeyPair, loadPublicKey } from '../../src/cli/keys.ts';
import { mergeSettings, parseConfigObject, validateSettings } from '../../src/cli/relay-config.ts';
import { parseServiceSpec } from '../../src/cli/relay-daemon.ts';
import { rmSync } from 'node:fs';
import { runCli } from './io.ts';

const dir = mkdtempSync(join(tmpdir(), 'dmsg-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('endpoints', () => {
  it('parses and formats back tcp, tls, IPv6 and unix addresses', () => {
    for (const text of ['127.0.0.1:5700', 'localhost:1', '[::1]:0', 'tls:127.0.0.1:443', 'tls:[::1]:9', 'unix:/tmp/x.sock']) {
      expect(formatEndpoint(parseEndpoint(text, 'listen', '--listen')), text).toBe(text);
    }
    expect(parseEndpoint('tcp:10.0.0.1:80', 'connect', 'x')).toEqual({ kind: 'tcp', host: '10.0.0.1', port: 80, explicit: true });
    expect(parseEndpoint('10.0.0.1:80', 'connect', 'x')).toMatchObject({ kind: 'tcp', explicit: false });
  });

  it('rejects bad addresses with a UsageError that says what is wrong', () => {
    const cases: Array<[string, 'listen' | 'connect', RegExp]> = [
      ['', 'listen', /empty address/],
      ['127.0.0.1', 'listen', /missing port/],
      [':80', 'connect', /missing host/],
      ['h:port', 'connect', /not a number/],
      ['h:70000', 'listen', /port must be in \[0, 65535\]/],
      ['h:0', 'connect', /port must be in \[1, 65535\]/],
      ['::1:80', 'connect', /brackets/],
      ['[nope]:80', 'connect', /not an IPv6 address/],
      ['unix:', 'listen', /empty socket path/],
    ];
    for (const [text, role, re] of cases) {
      let err: unknown;
      try { parseEndpoint(text, role, '--x'); } catch (e) { err = e; }
      expect(err, text).toBeInstanceOf(UsageError);
      expect((err as Error).message, text).toMatch(re);
    }
  });

  it('parses SERVICE[/INSTANCE]', () => {
    expect(parseServiceSpec('echo')).toEqual({ service: 'echo' });
    expect(parseServiceSpec('echo/a')).toEqual({ service: 'echo', instance: 'a' });
    // `dmsg call SERVICE/INSTANCE` could never name an instance with a '/': refused (issue 15).
    expect(() => parseServiceSpec('echo/a/b')).toThrow(/more than one '\/'/);
    expect(() => parseServiceSpec('/x')).toThrow(/empty service/);
    expect(() => parseServiceSpec('x/')).toThrow(/empty instance/);
  });
});

describe('config file and flags', () => {
  it('flags replace the file\'s values; repeatable flags replace the whole list; paths are relative to the file', () => {
    const file = parseConfigObject({ name: 'from-file', listen: ['127.0.0.1:1'], connect: 'h:2', key: 'k.pem', 'allow-key': ['a.pub'], 'backoff-min-ms': 50 }, 'cfg', '/etc/dmsg');
    expect(file).toEqual({ name: 'from-file', listen: ['127.0.0.1:1'], connect: ['h:2'], key: '/etc/dmsg/k.pem', 'allow-key': ['/etc/dmsg/a.pub'], 'backoff-min-ms': 50 });
    const merged = mergeSettings(file, { name: 'from-flag', listen: ['127.0.0.1:9', '[::1]:9'], connect: [], advertise: [], 'allow-key': [] });
    expect(merged).toEqual({ name: 'from-flag', listen: ['127.0.0.1:9', '[::1]:9'], connect: ['h:2'], advertise: [], key: '/etc/dmsg/k.pem', 'allow-key': ['/etc/dmsg/a.pub'], 'backoff-min-ms': 50 });
  });

  it('rejects unknown keys and wrong types', () => {
    expect(() => parseConfigObject({ lisen: [] }, 'cfg', '/')).toThrow(/unknown option "lisen"; known: .*listen/);
    expect(() => parseConfigObject({ listen: [1] }, 'cfg', '/')).toThrow(/"listen" must be a string or an array of strings/);
    expect(() => parseConfigObject({ 'backoff-min-ms': -1 }, 'cfg', '/')).toThrow(/positive integer/);
    expect(() => parseConfigObject([], 'cfg', '/')).toThrow(/JSON object/);
  });

  it('validates the merged settings', () => {
    const base = { listen: [], connect: [], advertise: [], 'allow-key': [] };
    expect(() => validateSettings(base)).toThrow(/nothing to do/);
    expect(() => validateSettings({ ...base, listen: ['x'] })).toThrow(/--listen "x": missing port/);
    expect(() => validateSettings({ ...base, connect: ['h:0'] })).toThrow(/--connect "h:0"/);
    expect(() => validateSettings({ ...base, listen: ['h:1'], advertise: ['/i'] })).toThrow(/--advertise: .*empty service/);
    expect(() => validateSettings({ ...base, listen: ['h:1'], 'tls-cert': 'c' })).toThrow(/both --tls-cert and --tls-key/);
    expect(() => validateSettings({ ...base, listen: ['tls:h:1'] })).toThrow(/tls: address needs/);
    expect(() => validateSettings({ ...base, listen: ['h:1'], 'backoff-min-ms': 10, 'backoff-max-ms': 5 })).toThrow(/backoff-max-ms/);
    expect(() => validateSettings({ ...base, listen: ['h:1'], name: 'x'.repeat(200) })).toThrow(/at most 127/);
    expect(() => validateSettings({ ...base, connect: ['h:1'], advertise: ['svc/inst'] })).not.toThrow();
  });
});

describe('dmsg relay command line', () => {
  it('--print-config shows the file merged with flags, then exits 0', async () => {
    const cfg = join(dir, 'relay.json');
    writeFileSync(cfg, JSON.stringify({ name: 'a', listen: ['127.0.0.1:5700'], advertise: ['echo'], key: 'a.key' }));
    const r = await runCli(['relay', '--config', cfg, '--listen', '127.0.0.1:0', '--listen', 'unix:/tmp/a.sock', '--connect', '127.0.0.1:5701', '--print-config']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ name: 'a', listen: ['127.0.0.1:0', 'unix:/tmp/a.sock'], connect: ['127.0.0.1:5701'], advertise: ['echo'], key: join(dir, 'a.key'), 'allow-key': [] });
  });

  it('command-line errors exit 2 with a clear message and no output', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['relay'], /nothing to do: give at least one --listen or --connect/],
      [['relay', '--listen'], /--listen/],
      [['relay', '--listen', 'nowhere'], /--listen "nowhere": missing port/],
      [['relay', '--connect', '1.2.3.4:99999'], /port must be in \[1, 65535\]/],
      [['relay', '--listen', ':1', '--bogus'], /Unknown option '--bogus'/],
      [['relay', '--listen', 'h:1', 'extra'], /unexpected argument 'extra'/],
      [['relay', '--config', join(dir, 'missing.json')], /--config .*missing\.json: cannot read: ENOENT/],
      [['relay', '--listen', 'h:1', '--backoff-min-ms', 'soon'], /--backoff-min-ms must be a positive integer/],
      [['relay', '--listen', '127.0.0.1:0', '--key', join(dir, 'missing.key')], /--key .*missing\.key: cannot read: ENOENT/],
      [['relay', '--listen', '127.0.0.1:0', '--backoff-min-ms', '40000'], /backoff: maxMs must be >= minMs/],
    ];
    writeFileSync(join(dir, 'bad.json'), '{"listen": [');
    cases.push([['relay', '--config', join(dir, 'bad.json')], /not valid JSON/]);
    writeFileSync(join(dir, 'not-a-key.pem'), 'hello');
    cases.push([['relay', '--listen', '127.0.0.1:0', '--allow-key', join(dir, 'not-a-key.pem')], /--allow-key .*not a PEM public key/]);
    for (const [argv, re] of cases) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout, argv.join(' ')).toBe('');
      expect(r.stderr, argv.join(' ')).toMatch(re);
      expect(r.stderr, argv.join(' ')).toContain("Run 'dmsg help relay' for usage.");
    }
  });

  it('help lists every relay option, marking the repeatable ones', async () => {
    const r = await runCli(['help', 'relay']);
    expect(r.code).toBe(0);
    for (const o of ['--listen ADDR', '--connect ADDR', '--name NAME', '--advertise SERVICE[/INSTANCE]', '--key FILE', '--allow-key FILE', '--tls-cert FILE', '--tls-key FILE', '--tls-ca FILE', '--config FILE']) expect(r.stdout).toContain(o);
    expect(r.stdout).toMatch(/--listen ADDR .*\(repeatable\)/);
    expect(r.stdout).toContain('echo service');
  });
});

describe('dmsg keygen', () => {
  it('writes an Ed25519 pair that --key and --allow-key load, private file mode 0600', async () => {
    const out = join(dir, 'node.key');
    const r = await runCli(['keygen', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/wrote .*node\.key \(private\) and .*node\.key\.pub \(public\), key [0-9a-f]{16}/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain('BEGIN PRIVATE KEY');
    const pair = loadKeyPair(out);
    const pub = loadPublicKey(`${out}.pub`);
    expect(pair.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(pub.export({ format: 'jwk' })).toEqual(pair.publicKey.export({ format: 'jwk' }));
  });

  it('refuses to overwrite without --force (exit 2), overwrites with it', async () => {
    const out = join(dir, 'twice.key');
    expect((await runCli(['keygen', '--out', out])).code).toBe(0);
    const before = readFileSync(out, 'utf8');
    const again = await runCli(['keygen', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists; pass --force');
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect((await runCli(['keygen', '--out', out, '--force'])).code).toBe(0);
    expect(readFileSync(out, 'utf8')).not.toBe(before);
  });

  it('needs --out', async () => {
    const r = await runCli(['keygen']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing --out FILE');
  });

  it('a non-Ed25519 key is refused with exit 2', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const f = join(dir, 'ec.key');
    writeFileSync(f, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const r = await runCli(['relay', '--listen', '127.0.0.1:0', '--key', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/an ec key; dmsg needs Ed25519/);
  });
});

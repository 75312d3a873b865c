/**
 * The package as a user gets it: `npm pack` (which builds dist/ through
 * `prepack`), the tarball installed into a temporary project with no network
 * (its dependencies are packed from this repository's node_modules and
 * installed with `--offline`), then a plain `.mjs` consumer, a strict NodeNext
 * TypeScript consumer and the installed `dmsg` bin run against it.
 *
 * Everything happens in a temporary directory: the package is staged there
 * (sources, manifest, a symlink to node_modules), so the repository's own
 * dist/ is left alone.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; license: string; dependencies: Record<string, string> };

function run(cmd: string, args: string[], cwd: string): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** The runtime dependencies of the package, transitively, as installed in this repo (optional ones only if present). */
function runtimeDeps(extra: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    const dir = join(ROOT, 'node_modules', name);
    if (!existsSync(dir)) return;
    seen.add(name);
    const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const d of [...Object.keys(p.dependencies ?? {}), ...Object.keys(p.optionalDependencies ?? {})]) visit(d);
  };
  for (const d of [...Object.keys(pkg.dependencies), ...extra]) visit(d);
  return [...seen];
}

const MJS = `
import { Router, startRelay, connectTcp, FrameDecoder, encodeMessage, concatBytes, DMSG, DMSG_PEER, ProtocolError } from 'dmsg-mesh';
import * as internal from 'dmsg-mesh/internal';
import { createRequire } from 'node:module';

const d = new FrameDecoder();
const [m] = d.push(concatBytes(encodeMessage({ header: { cmd: DMSG.LNK_PING, msgid: 9n } })));
if (m.header.msgid !== 9n) throw new Error('codec');
try { new FrameDecoder().push(new Uint8Array(64)); throw new Error('no error'); } catch (e) { if (!(e instanceof ProtocolError)) throw e; }
if (typeof internal.planRelays !== 'function') throw new Error('internal entry');

const relay = await startRelay({ name: 'r', listen: ['127.0.0.1:0'], advertise: ['echo/a'] });
const client = new Router({ name: 'c', peerType: DMSG_PEER.CLIENT });
const [host, port] = relay.addresses[0].split(':');
client.attach(await connectTcp({ host, port: Number(port) }));
const span = await client.waitForSpan('echo', AbortSignal.timeout(10000));
const tx = client.open(span, DMSG.DBG_SHELL, { aux: new TextEncoder().encode('hi'), delete: true });
const replies = [];
await new Promise((resolve, reject) => tx.rx$.subscribe({ next: (r) => replies.push(new TextDecoder().decode(r.aux)), complete: resolve, error: reject }));
await client.close();
await relay.stop();
let required = 'unsupported';
try { required = typeof createRequire(import.meta.url)('dmsg-mesh').Router; } catch (e) { required = e.code; }
console.log(JSON.stringify({ reply: replies.join(''), required }));
`;

const TS = `
import { Router, Iocom, startRelay, memoryPair, DMSG, type RelayConfig, type SpanInfo, type IocomOptions } from 'dmsg-mesh';
import { SpanTable } from 'dmsg-mesh/internal';

const config: RelayConfig = { name: 'r', listen: ['127.0.0.1:0'], advertise: ['echo'] };
const options: IocomOptions = { maxAuxBytes: 4096 };
export async function main(): Promise<string> {
  const relay = await startRelay(config);
  const [a, b] = memoryPair();
  const left = new Iocom(a, options);
  const right = new Iocom(b, options);
  const router: Router = new Router({ name: 'x' });
  const spans: SpanInfo[] = router.spans();
  void right;
  left.open(DMSG.DBG_SHELL).close();
  await relay.stop();
  return \`\${spans.length} \${typeof SpanTable}\`;
}
`;

describe('the npm package', () => {
  let tmp: string;
  let tarball: string;
  let files: string[];
  let consumer: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'dmsg-pack-'));
    const stage = join(tmp, 'stage');
    mkdirSync(stage);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src', 'scripts']) cpSync(join(ROOT, f), join(stage, f), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
    const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp], stage).stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = join(tmp, packed[0]!.filename);
    files = packed[0]!.files.map((f) => f.path);

    const deps = join(tmp, 'deps');
    mkdirSync(deps);
    // One npm process packs them all (each npm start-up costs about a second).
    run('npm', ['pack', ...runtimeDeps([]).map((d) => join(ROOT, 'node_modules', d)), '--ignore-scripts', '--silent', '--pack-destination', deps], tmp);
    consumer = join(tmp, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    const depTarballs = run('ls', [deps], tmp).stdout.split('\n').filter((l) => l.endsWith('.tgz')).map((l) => join(deps, l));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...depTarballs, tarball], consumer);
    // Node's types for the TypeScript consumer (a dev dependency of any TS project): linked, not installed.
    symlinkSync(join(ROOT, 'node_modules', '@types'), join(consumer, 'node_modules', '@types'), 'dir');
  }, 120_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('ships only what a user needs: dist (JS, .d.ts, maps), the bin, LICENSE, README', () => {
    expect(files).toContain('package.json');
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('bin/dmsg.js');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/internal.js', 'dist/cli/main.js']) expect(files).toContain(f);
    const stray = files.filter((f) => !/^(dist\/|bin\/|package\.json$|LICENSE$|README\.md$)/.test(f));
    expect(stray).toEqual([]);
    // The .d.ts files name .js modules, not the .ts sources.
    const dts = readFileSync(join(consumer, 'node_modules', 'dmsg-mesh', 'dist', 'index.d.ts'), 'utf8');
    expect(dts).toMatch(/from '\.\/span\/index\.js'/);
    expect(dts).not.toMatch(/\.ts'/);
  });

  it('LICENSE matches package.json', () => {
    expect(pkg.license).toBe('BSD-3-Clause');
    const text = readFileSync(join(consumer, 'node_modules', 'dmsg-mesh', 'LICENSE'), 'utf8');
    expect(text).toMatch(/^BSD 3-Clause License/);
    expect(text).toContain('the dmsg-mesh authors');
  });

  it('a plain .mjs consumer imports it, runs a relay and calls its echo service', () => {
    writeFileSync(join(consumer, 'consumer.mjs'), MJS);
    const out = run(process.execPath, ['consumer.mjs'], consumer).stdout.trim().split('\n').at(-1)!;
    const r = JSON.parse(out) as { reply: string; required: string };
    expect(r.reply).toBe('hi');
    // require() of an ES module works where Node supports it (20.19+, 22.12+); it must never be a resolution error.
    expect(['function', 'ERR_REQUIRE_ESM']).toContain(r.required);
  });

  it('a strict NodeNext TypeScript consumer, and every example copied as it is, typecheck against the .d.ts (skipLibCheck off)', () => {
    writeFileSync(join(consumer, 'consumer.ts'), TS);
    cpSync(join(ROOT, 'examples'), join(consumer, 'examples'), { recursive: true });
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, include: ['consumer.ts', 'examples/*.ts'] }),
    );
    run(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer);
  });

  it('the installed dmsg bin runs the compiled CLI', () => {
    const bin = join(consumer, 'node_modules', '.bin', 'dmsg');
    expect(run(bin, ['--version'], consumer).stdout).toBe(`dmsg ${pkg.version}\n`);
    expect(run(bin, ['help'], consumer).stdout).toMatch(/^usage: dmsg <command>/);
  });
});

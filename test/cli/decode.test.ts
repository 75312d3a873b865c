import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import { chunksOf, lines, runCli } from './io.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const S2C = fixture('session-handshake-s2c.bin');
const C2S = fixture('session-handshake-c2s.bin');

interface DecodedFixture {
  messages: { offset: number; name: string; flags: string; msgid: string }[];
}
const expected = (name: string): DecodedFixture => JSON.parse(readFileSync(fixture(name), 'utf8')) as DecodedFixture;

describe('dmsg decode', () => {
  it('prints one line per message of the s2c handshake capture: LNK_CONN, LNK_SPAN, LNK_ERROR', async () => {
    const r = await runCli(['decode', S2C]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^0x00000000  LNK_CONN\|CREATE msgid=0x7f0f680020e0 /);
    expect(out[1]).toMatch(/^0x00000200  LNK_SPAN\|CREATE msgid=0x7f0f68002670 /);
    expect(out[2]).toMatch(/^0x000003c0  LNK_ERROR\|CREATE\|REPLY\|REVTRANS /);
  });

  it('agrees with the C decoder on both captures (offsets, names, msgids)', async () => {
    for (const [bin, json] of [
      [S2C, 'session-handshake-s2c.decoded.json'],
      [C2S, 'session-handshake-c2s.decoded.json'],
    ] as const) {
      const r = await runCli(['decode', bin]);
      expect(r.code).toBe(0);
      const want = expected(json).messages;
      const got = lines(r.stdout);
      expect(got).toHaveLength(want.length);
      want.forEach((m, i) => {
        const [offset, desc] = got[i]!.split('  ');
        expect(Number(offset)).toBe(m.offset);
        expect(desc!.startsWith(m.name + '|')).toBe(true);
        expect(desc).toContain(`msgid=0x${BigInt(m.msgid).toString(16)} `);
      });
    }
  });

  it('reads stdin for "-" and for no file, in any chunking, with the same output', async () => {
    const bytes = new Uint8Array(readFileSync(S2C));
    const fromFile = (await runCli(['decode', S2C])).stdout;
    for (const [argv, size] of [
      [['decode', '-'], 1],
      [['decode'], 7],
      [['decode', '-'], 65536],
    ] as const) {
      const r = await runCli([...argv], chunksOf(bytes, size));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(fromFile);
    }
  });

  it('--verbose adds LNK_CONN / LNK_SPAN fields and an aux preview', async () => {
    const r = await runCli(['decode', '-v', S2C]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ +lnk_conn \{"layout":"seed",.*"peerMask":"0xffffffffffffffff"/m);
    expect(r.stdout).toMatch(/^ +lnk_span \{/m);
    const msg = concatBytes(encodeMessage({ header: { cmd: (DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0 }, aux: new TextEncoder().encode('ls\n\x01') }));
    const a = await runCli(['decode', '--verbose'], chunksOf(msg, 100));
    expect(a.code).toBe(0);
    expect(a.stdout).toContain('aux "ls\\n\\x01"');
  });

  it('exits 1 on a truncated stream, after printing the whole messages before it', async () => {
    const bytes = new Uint8Array(readFileSync(S2C)).subarray(0, 700);
    const r = await runCli(['decode'], chunksOf(bytes, 64));
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toHaveLength(1);
    expect(r.stderr).toContain('TRUNCATED');
    expect(r.stderr).toContain('at byte 512 (after 1 messages)');
  });

  it('exits 1 on a header CRC error, naming the byte offset', async () => {
    const bytes = new Uint8Array(readFileSync(S2C));
    bytes[512 + 0x08] ^= 0x01; // a msgid bit of the second message
    const r = await runCli(['decode', '-'], chunksOf(bytes, 1024));
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toHaveLength(1);
    expect(r.stderr).toMatch(/dmsg decode: BAD_HDR_CRC: at byte 512 /);
  });

  it('exits 1 with a clear message for a missing file', async () => {
    const r = await runCli(['decode', fixture('no-such-capture.bin')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('READ_FAILED: cannot read');
    expect(r.stderr).toContain('ENOENT');
  });

  it('prints nothing and exits 0 for an empty stream', async () => {
    const r = await runCli(['decode', '-']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

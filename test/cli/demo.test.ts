import { describe, expect, it } from 'vitest';
import { lines, runCli } from './io.ts';

describe('dmsg demo', () => {
  it('encodes, decodes and prints LNK_CONN, LNK_SPAN and DBG_SHELL, measures briefly, and exits 0', async () => {
    const r = await runCli(['demo', '--seconds', '0.1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = lines(r.stdout);
    const decoded = out.filter((l) => /^  [A-Z_]+\|CREATE msgid=/.test(l));
    expect(decoded.map((l) => l.trim().split(' ')[0])).toEqual(['LNK_CONN|CREATE', 'LNK_SPAN|CREATE', 'DBG_SHELL|CREATE']);
    expect(r.stdout).toContain('aux "uname -a\\n"');
    expect(r.stdout).toContain('round trip ok: 3 messages');
    const rates = [...r.stdout.matchAll(/([\d,]+) headers\/s/g)].map((m) => Number(m[1]!.replace(/,/g, '')));
    expect(rates).toHaveLength(2);
    for (const v of rates) expect(v).toBeGreaterThan(0);
  });

  it('--seconds 0 skips the measurement', async () => {
    const r = await runCli(['demo', '--seconds', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('round trip ok');
    expect(r.stdout).not.toContain('headers/s');
  });

  it('rejects a bad --seconds with exit 2', async () => {
    for (const v of ['-1', 'soon', '1e9', '']) {
      const r = await runCli(['demo', `--seconds=${v}`]);
      expect(r.code, v).toBe(2);
      expect(r.stderr).toContain('--seconds must be a number');
    }
  });
});

/** Each example runs to completion on its own (as `npx tsx examples/X.ts` would) and prints what it promises. */
import { describe, expect, it } from 'vitest';
import { runExample } from '../helpers/run-example.ts';


describe('examples/', () => {
  it('embed-relay.ts: both services answer through the embedded relay', async () => {
    const r = await runExample('embed-relay');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('bytecount on my-daemon (dist 1) answered: 21 bytes');
    expect(r.stdout).toContain('echo on other (dist 0) answered: hello from the client');
    expect(r.stdout).toMatch(/done\n$/);
  });

  it('discover-spans.ts: three spans up, one down when its relay stops', async () => {
    const r = await runExample('discover-spans');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/event up +storage\/c1 dist=1/);
    expect(r.stdout).toMatch(/event down +storage\/c1/);
    expect(r.stdout).toContain('storage instances left: a1');
  });

  it('request-response.ts: concurrent requests, replies and an error code', async () => {
    const r = await runExample('request-response');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('sqrt(144) = 12');
    expect(r.stdout).toContain('sqrt(minus one) = error 0x');
    expect(r.stdout).toContain('sqrt(1e6) = 1000');
  });
});

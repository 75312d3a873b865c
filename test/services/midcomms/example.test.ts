/** examples/reliable-session.ts runs to completion and loses nothing when the relay on its path stops. */
import { describe, expect, it } from 'vitest';
import { runExample } from '../../helpers/run-example.ts';


describe('examples/reliable-session.ts', () => {
  it('a relay on the path stops mid-stream; every message arrives once, in order', async () => {
    const r = await runExample('reliable-session', 50_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/stopping relay r[12] \(on the session's path\) mid-stream/);
    expect(r.stdout).toContain('B received 20000 of 20000, 0 out of order');
    expect(r.stdout).toMatch(/0 unacknowledged/);
    expect(r.stdout).toMatch(/nothing lost\n$/);
  }, 60_000);
});

/**
 * A completion AST now runs inside the delivery of the message that granted
 * the lock (`asyncReceive`, set by MidcommsEndpoint): still inside midcomms'
 * receive and iocom's read of the link. An application may tear its own
 * node down from there (close the Dlm, the endpoint, midcomms, its links).
 * None of that may throw out of the receive path, leave an unhandled
 * rejection, or disturb the other nodes: they go on locking.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LKM, newLksb, type Lockspace } from '../../../src/services/dlm/index.ts';
import { dlmLine, type DlmLine } from '../../helpers/dlm-mesh.ts';
import { until, type Mesh } from '../../helpers/mesh.ts';

let mesh: Mesh | null = null;
const cleanup: (() => void)[] = [];

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) f();
  await mesh?.close();
  mesh = null;
});

type Teardown = (line: DlmLine) => void;
const TEARDOWNS: Array<[string, Teardown]> = [
  ['closes its Dlm', (l) => l.dlms[2]!.close()],
  ['closes its MidcommsEndpoint', (l) => l.endpoints[2]!.close()],
  ['destroys its midcomms', (l) => l.mcs[2]!.destroy()],
  ['destroys its links', (l) => { for (const link of l.mesh.routers[2]!.links) link.iocom.destroy(); }],
  ['closes its router', (l) => void l.mesh.routers[2]!.close()],
];

/** Lock `name` with the low-level API, `inAst` run inside the AST; the status at the AST, waited for in bounded event-loop turns. */
async function lockWith(ls: Lockspace, mode: number, name: string, inAst: () => void = () => {}): Promise<number> {
  let status: number | null = null;
  const lksb = newLksb(0);
  const rv = ls.lock(mode, lksb, 0, name, () => {
    inAst();
    status = lksb.status;
  });
  if (rv !== 0) return rv;
  await until(() => status !== null, `the AST of ${name}`);
  return status!;
}

describe('an application that tears its node down inside a remote grant\'s AST', () => {
  for (const [what, teardown] of TEARDOWNS) {
    it(`the node ${what} in the AST: nothing escapes, the other nodes go on`, async () => {
      const line = await dlmLine(cleanup);
      mesh = line.mesh;
      const ids = line.endpoints.map((e) => e.nodeid);
      const members = [ids[0]!, ids[2]!].sort((a, b) => a - b);
      const ls0 = line.dlms[0]!.newLockspace('td', { lvblen: 0, members });
      const ls2 = line.dlms[2]!.newLockspace('td', { lvblen: 0, members });
      // Node 0 requests first: it masters 'res'; node 2's EX is a remote grant (through the relay, router 1).
      expect(await lockWith(ls0, LKM.NL, 'res')).toBe(0);
      let tornDown = false;
      const sentBefore = ls2.stats.sent;
      const status = await lockWith(ls2, LKM.EX, 'res', () => {
        teardown(line);
        tornDown = true;
      });
      expect(status).toBe(0);
      expect(tornDown).toBe(true);
      expect(ls2.stats.sent).toBeGreaterThan(sentBefore); // the grant was remote
      // Let every pending turn run: the receive path that delivered the grant unwinds over a node that is gone.
      for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
      // Nodes 0 and 1 still lock with each other: node 1 masters 'after' (it asks first), node 0's EX is a remote grant.
      const pair = [ids[0]!, ids[1]!].sort((a, b) => a - b);
      const after0 = line.dlms[0]!.newLockspace('after', { lvblen: 0, members: pair });
      const after1 = line.dlms[1]!.newLockspace('after', { lvblen: 0, members: pair });
      expect(await lockWith(after1, LKM.NL, 'after-res')).toBe(0);
      const sent0 = after0.stats.sent;
      expect(await lockWith(after0, LKM.EX, 'after-res')).toBe(0);
      expect(after0.stats.sent).toBeGreaterThan(sent0);
      expect(line.dlms[0]!.lockspace('td')!.stats.callbackErrors).toBe(0);
    });
  }
});

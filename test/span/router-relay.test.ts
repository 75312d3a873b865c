/**
 * Transactions relayed hop by hop along a line of routers (1, 3 and 8
 * relays): data both ways with aux of many sizes, ext passed through,
 * sub-transactions stacked 3 deep from either end, a relay killed
 * mid-transaction, and the span withdrawn mid-transaction. After each, the
 * links hold only their CONNs and spans (leftoverTransactions()).
 */
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/iocom/transaction.ts';
import type { Iocom } from '../../src/iocom/iocom.ts';
import type { Advertisement, Router } from '../../src/span/router.ts';
import { DMSG, DMSG_ERR } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';
import { createMesh, leftoverTransactions, quiesce, spanOf, until, type Mesh } from '../helpers/mesh.ts';

/** BLK_READ: a 128-byte header, so 64 bytes of ext travel with every message. */
const CMD = DMSG.BLK_READ;
const AUX_SIZES = [0, 1, 7, 63, 64, 65, 1000, 4096, 65535, 65536];

function bytes(n: number, salt: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + salt * 7 + (i >> 8)) & 0xff;
  return b;
}

interface End {
  readonly name: string;
  /** head.error of the DELETE that ended it (peer's or the failure simulation's). */
  readonly error: number;
}

/** Follows a transaction: keeps what arrives, records how it ended, closes our side then. */
class Watch {
  readonly got: Message[] = [];
  readonly name: string;
  readonly tx: Transaction;
  constructor(name: string, tx: Transaction, ends: End[]) {
    this.name = name;
    this.tx = tx;
    tx.rx$.subscribe({
      next: (m) => this.got.push(m),
      complete: () => {
        ends.push({ name, error: this.got.at(-1)?.header.error ?? -1 });
        if (tx.canSend) tx.close();
      },
      error: (e: { dmsgError?: number }) => {
        ends.push({ name, error: e.dmsgError ?? -1 });
        if (tx.canSend) tx.close();
      },
    });
  }
  /** Data messages (aux or ext), LNK_ERROR status messages left out. */
  get data(): Message[] {
    return this.got.filter((m) => (m.header.cmd & 0x00ffffff) !== DMSG.LNK_ERROR);
  }
}

interface Line {
  mesh: Mesh;
  server: Router;
  client: Router;
  ad: Advertisement;
  /** Transactions the service received, in order. */
  served: Transaction[];
  /** The server's and the client's only link. */
  serverIocom: Iocom;
  clientIocom: Iocom;
}

async function line(relays: number): Promise<Line> {
  const n = relays + 2;
  const mesh = createMesh(n, Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]));
  const server = mesh.routers[0]!;
  const client = mesh.routers[n - 1]!;
  const ad = server.advertise({ service: 'svc', instance: 'one' });
  const served: Transaction[] = [];
  ad.transactions$.subscribe((tx) => served.push(tx));
  await until(() => spanOf(client, 'svc') !== undefined, 'span reaches the client');
  expect(spanOf(client, 'svc')!.dist).toBe(relays);
  await quiesce(mesh);
  return { mesh, server, client, ad, served, serverIocom: server.links[0]!.iocom, clientIocom: client.links[0]!.iocom };
}

describe.each([1, 3, 8])('through %i relay(s)', (relays) => {
  it('carries data both ways: ext, aux from 0 to 64 KiB, in order, then closes cleanly', async () => {
    const L = await line(relays);
    const ends: End[] = [];
    const ext = bytes(64, 99);
    const tx = L.client.open('svc', CMD, { ext, aux: bytes(10, 1) });
    const c = new Watch('client', tx, ends);
    await until(() => L.served.length === 1, 'the service gets the transaction');
    const st = L.served[0]!;
    expect(Array.from(st.first!.ext)).toEqual(Array.from(ext));
    expect(Array.from(st.first!.aux)).toEqual(Array.from(bytes(10, 1)));
    // (its CREATE came before this subscription: st.first, checked above)
    const s = new Watch('server', st, ends);
    AUX_SIZES.forEach((size, k) => tx.send(CMD, { aux: bytes(size, k + 10), ext: bytes(64, k) }));
    AUX_SIZES.forEach((size, k) => st.send(CMD, { aux: bytes(size, k + 50), ext: bytes(64, k + 1) }));
    await until(() => s.data.length === AUX_SIZES.length && c.data.length === AUX_SIZES.length, 'every message arrives');
    AUX_SIZES.forEach((size, k) => {
      const toServer = s.data[k]!;
      const toClient = c.data[k]!;
      expect(toServer.aux.length, `to server #${k}`).toBe(size);
      expect(Buffer.from(toServer.aux).equals(Buffer.from(bytes(size, k + 10))), `to server #${k} bytes`).toBe(true);
      expect(Buffer.from(toServer.ext.subarray(0, 64)).equals(Buffer.from(bytes(64, k))), `to server #${k} ext`).toBe(true);
      expect(toClient.aux.length, `to client #${k}`).toBe(size);
      expect(Buffer.from(toClient.aux).equals(Buffer.from(bytes(size, k + 50))), `to client #${k} bytes`).toBe(true);
      expect(Buffer.from(toClient.ext.subarray(0, 64)).equals(Buffer.from(bytes(64, k + 1))), `to client #${k} ext`).toBe(true);
    });
    await quiesce(L.mesh);
    // Open now: one pair per link along the line (the helper sees them).
    expect(leftoverTransactions(L.mesh)).toHaveLength(2 * (relays + 1));
    tx.close();
    await until(() => ends.length === 2, 'both ends closed');
    expect(ends).toEqual([{ name: 'server', error: 0 }, { name: 'client', error: 0 }]);
    await quiesce(L.mesh);
    expect(leftoverTransactions(L.mesh)).toEqual([]);
    await L.mesh.close();
  });

  it('stacks sub-transactions 3 deep from either end and talks on the deepest', async () => {
    const L = await line(relays);
    const ends: End[] = [];
    const fromServer: Transaction[] = [];
    L.client.subTransactions$.subscribe((t) => fromServer.push(t));
    const t1 = L.client.open('svc', CMD, {});
    const t2 = L.clientIocom.open(CMD, { parent: t1, aux: bytes(5, 2) });
    const t3 = L.clientIocom.open(CMD, { parent: t2, aux: bytes(6, 3) });
    await until(() => L.served.length === 3, 'the service gets all three');
    const [s1, s2, s3] = L.served as [Transaction, Transaction, Transaction];
    expect(s1.parent?.parent).toBeNull(); // on the server's outgoing span
    expect(s2.parent).toBe(s1);
    expect(s3.parent).toBe(s2);
    expect(Array.from(s3.first!.aux)).toEqual(Array.from(bytes(6, 3)));
    // The server stacks its own two levels on s1.
    const u2 = L.serverIocom.open(CMD, { parent: s1, aux: bytes(7, 4) });
    const u3 = L.serverIocom.open(CMD, { parent: u2, aux: bytes(8, 5) });
    await until(() => fromServer.length === 2, 'the client gets both');
    const [c2, c3] = fromServer as [Transaction, Transaction];
    expect(c2.parent).toBe(t1);
    expect(c3.parent).toBe(c2);
    expect(Array.from(c3.first!.aux)).toEqual(Array.from(bytes(8, 5)));
    const w = {
      t3: new Watch('t3', t3, ends), s3: new Watch('s3', s3, ends),
      u3: new Watch('u3', u3, ends), c3: new Watch('c3', c3, ends),
    };
    t3.send(CMD, { aux: bytes(65536, 6) });
    s3.send(CMD, { aux: bytes(100, 7) });
    u3.send(CMD, { aux: bytes(200, 8) });
    c3.send(CMD, { aux: bytes(300, 9) });
    await until(() => w.s3.data.length === 1 && w.t3.data.length === 1 && w.c3.data.length === 1 && w.u3.data.length === 1, 'messages on the deepest level');
    expect(Buffer.from(w.s3.data[0]!.aux).equals(Buffer.from(bytes(65536, 6)))).toBe(true);
    expect(Buffer.from(w.t3.data[0]!.aux).equals(Buffer.from(bytes(100, 7)))).toBe(true);
    expect(Buffer.from(w.c3.data[0]!.aux).equals(Buffer.from(bytes(200, 8)))).toBe(true);
    expect(Buffer.from(w.u3.data[0]!.aux).equals(Buffer.from(bytes(300, 9)))).toBe(true);
    // Close bottom-up from the opener's side; the Watches close the other side.
    for (const t of [t3, u3]) t.close();
    for (const [a, b] of [[t2, s2], [u2, c2], [t1, s1]] as const) {
      a.close();
      await until(() => b.rxDeleted, `${b} sees the DELETE`);
      b.close();
    }
    await quiesce(L.mesh);
    expect(leftoverTransactions(L.mesh)).toEqual([]);
    await L.mesh.close();
  });
});

describe('failures mid-transaction', () => {
  /** t1 (client→service), t2 under it from the client, u2 under it from the server. */
  async function openTree(L: Line, ends: End[]) {
    const fromServer: Transaction[] = [];
    L.client.subTransactions$.subscribe((t) => fromServer.push(t));
    const t1 = L.client.open('svc', CMD, {});
    const t2 = L.clientIocom.open(CMD, { parent: t1 });
    await until(() => L.served.length === 2, 'the service gets t1 and t2');
    const [s1, s2] = L.served as [Transaction, Transaction];
    const u2 = L.serverIocom.open(CMD, { parent: s1 });
    await until(() => fromServer.length === 1, 'the client gets u2');
    const c2 = fromServer[0]!;
    new Watch('client t2', t2, ends);
    new Watch('client u2', c2, ends);
    new Watch('client t1', t1, ends);
    new Watch('server t2', s2, ends);
    new Watch('server u2', u2, ends);
    new Watch('server t1', s1, ends);
    return { t1, t2, s1, s2, u2, c2 };
  }

  function expectChildrenFirst(ends: End[], side: string): void {
    const mine = ends.filter((e) => e.name.startsWith(side)).map((e) => e.name);
    expect(mine.length, `${side}: all three ended`).toBe(3);
    expect(mine.at(-1), `${side}: the parent ends last (${mine.join(', ')})`).toBe(`${side} t1`);
  }

  it.each([1, 3, 8])('a relay killed (%i relays): both ends see LOSTLINK, children first; relays keep no state', async (relays) => {
    const L = await line(relays);
    const ends: End[] = [];
    await openTree(L, ends);
    const victim = L.mesh.routers[Math.ceil(relays / 2)]!;
    for (const l of victim.links) l.iocom.destroy();
    await until(() => ends.length === 6, 'all six transaction ends end');
    for (const e of ends) expect(e.error, `${e.name}`).toBe(DMSG_ERR.LOSTLINK);
    expectChildrenFirst(ends, 'client');
    expectChildrenFirst(ends, 'server');
    await quiesce(L.mesh);
    expect(leftoverTransactions(L.mesh)).toEqual([]);
    // The client lost the span with the relay; the server side still reaches the relays before it.
    expect(spanOf(L.client, 'svc')).toBeUndefined();
    if (relays > 1) expect(spanOf(L.mesh.routers[1]!, 'svc')?.dist).toBe(0);
    await L.mesh.close();
  });

  it.each([1, 3, 8])('the span withdrawn (%i relays): both ends see LOSTLINK, children first; nothing left', async (relays) => {
    const L = await line(relays);
    const ends: End[] = [];
    await openTree(L, ends);
    L.ad.close();
    await until(() => ends.length === 6, 'all six transaction ends end');
    for (const e of ends) expect(e.error, `${e.name}`).toBe(DMSG_ERR.LOSTLINK);
    expectChildrenFirst(ends, 'client');
    expectChildrenFirst(ends, 'server');
    await quiesce(L.mesh);
    expect(leftoverTransactions(L.mesh)).toEqual([]);
    for (const r of L.mesh.routers) expect(r.spans('svc'), r.name).toEqual([]);
    expect(() => L.client.open('svc', CMD)).toThrow(/no reachable span/);
    await L.mesh.close();
  });

  it('a transaction opened just as the span goes is ended with LOSTLINK, not left open', async () => {
    const L = await line(3);
    const ends: End[] = [];
    const t1 = L.client.open('svc', CMD, { aux: bytes(9, 1) });
    new Watch('client t1', t1, ends);
    L.ad.close();
    await until(() => ends.length === 1, 'the client transaction ends');
    expect(ends[0]!.error).toBe(DMSG_ERR.LOSTLINK);
    await quiesce(L.mesh);
    expect(leftoverTransactions(L.mesh)).toEqual([]);
    await L.mesh.close();
  });
});

/**
 * Transaction.context belongs to the application: the router keeps its own
 * routing state elsewhere, so an application that sets context on its
 * transactions still gets their sub-transactions relayed both ways.
 */
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { DMSG } from '../../src/wire/constants.ts';
import { createMesh, quiesce, spanOf, until } from '../helpers/mesh.ts';

const CMD = DMSG.BLK_READ;

describe('Transaction.context is the application\'s', () => {
  it.each([0, 1, 2])('sub-transactions still flow both ways when every end sets context (%i relays)', async (relays) => {
    const n = relays + 2;
    const mesh = createMesh(n, Array.from({ length: n - 1 }, (_, i) => [i, i + 1] as [number, number]));
    const server = mesh.routers[0]!;
    const client = mesh.routers[n - 1]!;
    const ad = server.advertise({ service: 'svc', instance: 'one' });
    const served: Transaction[] = [];
    ad.transactions$.subscribe((tx) => {
      tx.context = { app: 'server', n: served.length };
      tx.rx$.subscribe({ error: () => {} });
      served.push(tx);
    });
    await until(() => spanOf(client, 'svc') !== undefined, 'span reaches the client');
    await quiesce(mesh);
    const fromServer: Transaction[] = [];
    client.subTransactions$.subscribe((t) => {
      t.context = 'client-sub';
      fromServer.push(t);
    });
    const t1 = client.open('svc', CMD);
    t1.context = { app: 'client' };
    await until(() => served.length === 1, 'the service gets t1');
    const t2 = client.openChild(t1, CMD, { aux: new Uint8Array([2]) });
    t2.context = 42;
    await until(() => served.length === 2, 'the service gets t2 stacked on t1');
    expect(served[1]!.parent).toBe(served[0]);
    const t3 = client.openChild(t2, CMD, { aux: new Uint8Array([3]) });
    t3.context = null;
    await until(() => served.length === 3, 'the service gets t3 stacked on t2');
    expect(Array.from(served[2]!.first!.aux)).toEqual([3]);
    const u2 = server.openChild(served[0]!, CMD, { aux: new Uint8Array([7]) });
    u2.context = 'u2';
    await until(() => fromServer.length === 1, 'the client gets u2 stacked on t1');
    expect(fromServer[0]!.parent).toBe(t1);
    expect(Array.from(fromServer[0]!.first!.aux)).toEqual([7]);
    // The contexts are exactly what the application set.
    expect(t1.context).toEqual({ app: 'client' });
    expect(served[0]!.context).toEqual({ app: 'server', n: 0 });
    expect(fromServer[0]!.context).toBe('client-sub');
    await mesh.close();
  });
});

import { describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { DMSG, DMSGF, DMSG_ERR } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';
import { createMesh, until, spanOf } from '../helpers/mesh.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('Router over in-memory links', () => {
  it('relays a span along a line and carries a transaction through relays', async () => {
    const mesh = createMesh(5, [[0, 1], [1, 2], [2, 3], [3, 4]]);
    const [a, , , , e] = mesh.routers as [any, any, any, any, any];
    const ad = a.advertise({ service: 'echo', instance: 'one' });
    ad.transactions$.subscribe((tx: any) => {
      tx.rx$.subscribe({
        next: (m: any) => { if (m.aux.length) tx.send(DMSG.DBG_SHELL, { aux: m.aux }); },
        complete: () => tx.close(),
      });
    });
    await until(() => spanOf(e, 'echo') !== undefined, 'span reaches the far end');
    const s = spanOf(e, 'echo')!;
    expect(s.dist).toBe(3);
    expect(s.instance).toBe('one');
    expect(s.node).toBe(a.nodeId);
    const tx = e.open('echo', DMSG.DBG_SHELL, { aux: enc.encode('hello') });
    const got: string[] = [];
    const done = lastValueFrom(tx.rx$.pipe(toArray<Message>()));
    tx.rx$.subscribe((m: any) => { if (m.aux.length) { got.push(dec.decode(m.aux)); tx.close(); } });
    const all = (await done) as Message[];
    expect(got).toEqual(['hello']);
    expect(all.at(-1)!.header.cmd & DMSGF.DELETE).toBeTruthy();
    await until(() => mesh.routers.every((r) => r.links.every((l) => l.iocom.stats().weOpened + l.iocom.stats().peerOpened <= 4)), 'relays hold no transaction state');
    ad.close();
    await until(() => mesh.routers.every((r) => r.spans('echo').length === 0), 'withdrawal reaches everyone');
    await mesh.close();
  });

  it('ends a relayed transaction with LOSTLINK on both ends when a middle link dies', async () => {
    const mesh = createMesh(3, [[0, 1], [1, 2]]);
    const [a, , c] = mesh.routers as [any, any, any];
    const ad = a.advertise({ service: 'svc' });
    let serverSide: any;
    const serverEnded = new Promise<unknown>((resolve) => ad.transactions$.subscribe((tx: any) => { serverSide = tx; tx.rx$.subscribe({ error: resolve, complete: () => resolve('complete') }); }));
    await until(() => spanOf(c, 'svc') !== undefined, 'span');
    const tx = c.open('svc', DMSG.DBG_SHELL, {});
    const clientEnd = lastValueFrom(tx.rx$.pipe(toArray())).catch((e: unknown) => e);
    await until(() => serverSide !== undefined, 'server got it');
    mesh.links[1]!.cut();
    const ce: any = await clientEnd;
    expect(ce.code).toBe('LOST_LINK');
    const se: any = await serverEnded;
    expect(se === 'complete' ? DMSG_ERR.LOSTLINK : se.dmsgError).toBe(DMSG_ERR.LOSTLINK);
    await mesh.close();
  });
});

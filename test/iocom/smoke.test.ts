import { describe, expect, it } from 'vitest';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { iocomPair, collect } from '../helpers/iocom-pair.ts';

describe('iocom smoke', () => {
  for (const kind of ['memory', 'tcp'] as const) {
    it(`opens a transaction and gets a reply over ${kind}`, async () => {
      const p = await iocomPair(kind);
      p.b.transactions$.subscribe((tx) => {
        tx.rx$.subscribe({ complete: () => tx.reply(0, { aux: new TextEncoder().encode('pong') }) });
      });
      const tx = p.a.open(DMSG.DBG_SHELL, { aux: new TextEncoder().encode('ping'), delete: true });
      const msgs = await collect(tx.rx$);
      expect(msgs).toHaveLength(1);
      expect(msgs[0]!.header.cmd & (DMSGF.CREATE | DMSGF.DELETE | DMSGF.REPLY)).toBe(DMSGF.CREATE | DMSGF.DELETE | DMSGF.REPLY);
      expect(new TextDecoder().decode(msgs[0]!.aux)).toBe('pong');
      expect(tx.freed).toBe(true);
      expect(p.a.stats().weOpened).toBe(0);
      expect(p.b.stats().peerOpened).toBe(0);
      expect(await p.a.ping()).toBeGreaterThanOrEqual(0);
      await p.close();
    });
  }
});

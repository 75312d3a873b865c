/** The lockdump text: resources, masters, directory nodes, each queue with roles and modes. */
import { expect, it } from 'vitest';
import { formatLockdump, LKM } from '../../../src/services/dlm/index.ts';
import { cluster } from './cluster.ts';

it('prints masters, directory nodes and queues with roles, modes and remote ids', () => {
  const c = cluster(3);
  const a = c.holder(1, 'A');
  const b = c.holder(3, 'B');
  const w = c.holder(3, 'W');
  c.lock(a, LKM.EX, 'd1res');
  c.lock(b, LKM.NL, 'd1res');
  c.run();
  c.lock(w, LKM.PR, 'd1res');
  c.run();
  const dump = c.ls.get(1)!.dump();
  const text = formatLockdump('ls', dump);
  const remid = (h: typeof a): string => h.lksb.lkid.toString(16);
  const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
  const copyOf = (h: typeof a): number => [...dump[0]!.grant, ...dump[0]!.wait].find((l) => l.role === 'master' && l.remid === h.lksb.lkid)!.lkid;
  expect(text).toBe(
    [
      'lockspace ls: 1 resource',
      'resource "d1res" master 1 dir 2 lvbseq 0',
      ' granted:',
      `  ${hex8(copyOf(b))} NL master owner 3 remid ${remid(b)}`,
      `  ${a.lksb.lkid.toString(16).padStart(8, '0')} EX local local`,
      ' waiting:',
      `  ${hex8(copyOf(w))} IV (PR) master owner 3 remid ${remid(w)}`,
      '',
    ].join('\n'),
  );
  const owner = formatLockdump('ls', c.ls.get(3)!.dump());
  expect(owner).toContain('resource "d1res" master 1 dir 2');
  expect(owner).toContain(' waiting:');
  expect(owner).toContain(`IV (PR) process master 1 remid ${copyOf(w).toString(16)}`);
  expect(formatLockdump('x\u0001', [])).toBe('lockspace x\\x01: 0 resources\n');
});

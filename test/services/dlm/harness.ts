/**
 * A single-node lockspace with a manual scheduler and a callback log, for
 * the scenario tests: every AST/BAST is recorded as one line, in delivery
 * order, so a test asserts exactly which callbacks came and in what order.
 */
import { ManualClock } from '../../../src/util/clock.ts';
import { LKF, modeName, newLksb, ManualScheduler, Dlm, statusName, type Lksb } from '../../../src/services/dlm/index.ts';
import type { Lockspace } from '../../../src/services/dlm/lockspace.ts';

export interface Holder {
  tag: string;
  lksb: Lksb;
  ast: () => void;
  bast: (arg: unknown, mode: number) => void;
}

export function singleNode(lvblen = 32) {
  const scheduler = new ManualScheduler();
  const clock = new ManualClock();
  const sent: unknown[] = [];
  const dlm = new Dlm({ nodeid: 1, scheduler, clock, observer: (e) => sent.push(e) });
  const ls: Lockspace = dlm.newLockspace('test', { lvblen });
  const log: string[] = [];
  const holder = (tag: string, withBast = true): Holder => {
    const lksb = newLksb(lvblen);
    const h: Holder = {
      tag,
      lksb,
      ast: () => log.push(`${tag} ast ${statusName(lksb.status)}${lksb.flags ? ` sb=${lksb.flags}` : ''}`),
      bast: (_a, mode) => log.push(`${tag} bast ${modeName(mode)}`),
    };
    if (!withBast) h.bast = undefined as never;
    return h;
  };
  const lock = (h: Holder, mode: number, flags = 0, name = 'res'): number => ls.lock(mode, h.lksb, flags, name, h.ast, undefined, h.bast);
  const convert = (h: Holder, mode: number, flags = 0): number => ls.lock(mode, h.lksb, flags | LKF.CONVERT, null, h.ast, undefined, h.bast);
  const unlock = (h: Holder, flags = 0): number => ls.unlock(h.lksb.lkid, flags, h.lksb);
  /** Deliver pending callbacks; return (and clear) the log. */
  const run = (): string[] => {
    scheduler.runPending();
    return log.splice(0);
  };
  const tags = new Map<number, string>();
  const queues = (name = 'res'): string => {
    const r = ls.dump().find((d) => d.name === name);
    if (!r) return '(none)';
    const f = (l: { lkid: number; grmode: number; rqmode: number }): string => `${tags.get(l.lkid) ?? l.lkid}:${modeName(l.grmode)}${l.rqmode >= 0 ? '>' + modeName(l.rqmode) : ''}`;
    return `G[${r.grant.map(f).join(' ')}] C[${r.convert.map(f).join(' ')}] W[${r.wait.map(f).join(' ')}]`;
  };
  const name = (h: Holder): void => void tags.set(h.lksb.lkid, h.tag);
  return { dlm, ls, scheduler, clock, log, holder, lock, convert, unlock, run, queues, name, sent };
}

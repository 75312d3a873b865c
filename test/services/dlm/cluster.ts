/**
 * A simulated cluster for the multi-node tests: DlmSim with N nodes joined
 * to one lockspace, a callback log whose lines name the node and holder, and
 * a message log from the observer hook.
 */
import { LKF, modeName, newLksb, statusName, DlmSim, type Lksb, type DlmMessageEvent, type ResourceHash } from '../../../src/services/dlm/index.ts';
import type { Lockspace } from '../../../src/services/dlm/lockspace.ts';

export interface RemoteHolder {
  tag: string;
  node: number;
  lksb: Lksb;
  ast: () => void;
  bast: (arg: unknown, mode: number) => void;
}

/** A hash that pins every resource's directory node: name 'dN...' goes to members[N]. */
export const pinHash: ResourceHash = (name) => {
  const i = name[0] === 0x64 /* d */ ? name[1]! - 0x30 : 0;
  return (i << 16) >>> 0;
};

export function cluster(n = 3, opts: { lvblen?: number; tossMs?: number | Record<number, number>; hash?: ResourceHash; nodir?: boolean } = {}) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const msgs: DlmMessageEvent[] = [];
  const sim = new DlmSim({ nodes: ids, hash: opts.hash ?? pinHash, tossMs: opts.tossMs, observer: (e) => msgs.push(e) });
  const lvblen = opts.lvblen ?? 32;
  const ls = new Map<number, Lockspace>();
  for (const id of ids) ls.set(id, sim.node(id).newLockspace('ls', { lvblen, members: ids, nodir: opts.nodir }));
  const log: string[] = [];
  const holder = (node: number, tag: string): RemoteHolder => {
    const lksb = newLksb(lvblen);
    return {
      tag,
      node,
      lksb,
      ast: () => log.push(`${tag} ast ${statusName(lksb.status)}${lksb.flags ? ` sb=${lksb.flags}` : ''}`),
      bast: (_a, mode) => log.push(`${tag} bast ${modeName(mode)}`),
    };
  };
  const L = (h: RemoteHolder): Lockspace => ls.get(h.node)!;
  const lock = (h: RemoteHolder, mode: number, name: string, flags = 0): number => L(h).lock(mode, h.lksb, flags, name, h.ast, undefined, h.bast);
  const convert = (h: RemoteHolder, mode: number, flags = 0): number => L(h).lock(mode, h.lksb, flags | LKF.CONVERT, null, h.ast, undefined, h.bast);
  const unlock = (h: RemoteHolder, flags = 0): number => L(h).unlock(h.lksb.lkid, flags, h.lksb);
  /** Deliver everything pending (no timers); return and clear the callback log. */
  const run = (): string[] => {
    sim.runPending();
    return log.splice(0);
  };
  /** Sent messages since the last call, as 'from>to TYPE'. */
  const sent = (): string[] =>
    msgs.splice(0).filter((m) => m.direction === 'send').map((m) => `${m.from}>${m.to} ${m.type}${m.type.endsWith('REPLY') || m.type === 'GRANT' ? `(${statusName(m.result)})` : ''}${m.type === 'LOOKUP_REPLY' ? ` master=${m.nodeid}` : ''}${m.type === 'BAST' ? ` ${modeName(m.bastmode)}` : ''}`);
  return { sim, ls, ids, log, msgs, holder, lock, convert, unlock, run, sent };
}

/**
 * `Lockspace.dump()`: resources with their master, directory node and queues
 * (like `dlm_tool lockdump`); `lockdump.ts` formats it as text.
 */
import type { Lock } from './lock.ts';
import type { Resource } from './resource.ts';
import type { ModeOrIV } from './constants.ts';

/** One queue entry of `dump()`. */
export interface DumpLock {
  lkid: number;
  remid: number;
  nodeid: number;
  grmode: ModeOrIV;
  rqmode: ModeOrIV;
  role: 'local' | 'process' | 'master';
}

export interface DumpResource {
  name: string;
  master: number;
  dir: number;
  grant: DumpLock[];
  convert: DumpLock[];
  wait: DumpLock[];
  lvbseq: number;
  valnotvalid: boolean;
  active: boolean;
}

/** The dump of `resources`, sorted by name; `dirNodeOf` names each one's directory node. */
export function dumpResources(resources: Iterable<Resource>, dirNodeOf: (r: Resource) => number): DumpResource[] {
  const out: DumpResource[] = [];
  const role = (l: Lock): DumpLock['role'] => (l.masterCopy ? 'master' : l.nodeid === 0 ? 'local' : 'process');
  const d = (l: Lock): DumpLock => ({ lkid: l.lkid, remid: l.remid, nodeid: l.nodeid, grmode: l.grmode, rqmode: l.rqmode, role: role(l) });
  for (const r of resources) {
    out.push({
      name: r.key,
      master: r.master,
      dir: dirNodeOf(r),
      grant: r.grant.map(d),
      convert: r.convert.map(d),
      wait: r.wait.map(d),
      lvbseq: r.lvbseq,
      valnotvalid: r.valnotvalid,
      active: !r.unused,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A text dump of a lockspace's resources in the spirit of `dlm_tool
 * lockdump`: one block per resource with its master and directory node, then
 * each queue with lock id, role, owner or master node and modes. Pure: takes
 * what `Lockspace.dump()` returns.
 */
import { modeName } from './constants.ts';
import type { DumpLock, DumpResource } from './lockspace-dump.ts';

function printable(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    out += c >= 0x20 && c < 0x7f && c !== 0x5c ? name[i] : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return out;
}

function lockLine(l: DumpLock): string {
  const where = l.role === 'master' ? `owner ${l.nodeid} remid ${l.remid.toString(16)}` : l.role === 'process' ? `master ${l.nodeid} remid ${l.remid.toString(16)}` : 'local';
  const rq = l.rqmode >= 0 ? ` (${modeName(l.rqmode)})` : '';
  return `  ${l.lkid.toString(16).padStart(8, '0')} ${modeName(l.grmode)}${rq} ${l.role} ${where}`;
}

/** The dump as lines of text. */
export function formatLockdump(lockspace: string, resources: readonly DumpResource[]): string {
  const out: string[] = [`lockspace ${printable(lockspace)}: ${resources.length} resource${resources.length === 1 ? '' : 's'}`];
  for (const r of resources) {
    out.push(`resource "${printable(r.name)}" master ${r.master || 'unknown'} dir ${r.dir}${r.active ? '' : ' (inactive)'} lvbseq ${r.lvbseq}${r.valnotvalid ? ' VALNOTVALID' : ''}`);
    for (const [title, q] of [['granted', r.grant], ['converting', r.convert], ['waiting', r.wait]] as const) {
      if (q.length === 0) continue;
      out.push(` ${title}:`);
      for (const l of q) out.push(lockLine(l));
    }
  }
  return out.join('\n') + '\n';
}

/**
 * DBG_SHELL, as DragonFly's service daemon answers it: one-way text commands,
 * text replies in aux (DBG_SHELL|REPLY), one reply message per output line
 * as libdmsg's dmsg_printf does. So no reply is ever larger than a line
 * (itself cut at SHELL_MAX_LINE_BYTES), and past SHELL_MAX_LINES lines the
 * answer is cut with a note: a table of 65536 spans never becomes a reply
 * the link cannot carry or a queue the peer can make us fill.
 */
import { DMSG, DMSGF } from '../wire/constants.ts';
import type { Message } from '../wire/message.ts';
import type { Iocom } from '../iocom/iocom.ts';

/** Lines answered to one command at most; the rest is replaced by a note. */
export const SHELL_MAX_LINES = 2048;
/** UTF-8 bytes per reply line at most (longer lines are cut). */
export const SHELL_MAX_LINE_BYTES = 512;

/** What the shell reads from the router. */
export interface ShellTarget {
  describeTree(): string;
  readonly links: readonly { connId: string; peerName: string | null; peerNodeId: string | null }[];
}

/** The answer to one command, as text (lines ending in \n). */
export function answerShell(router: ShellTarget, line: string): string {
  const [cmd = ''] = line.trim().split(/\s+/);
  switch (cmd) {
    case '':
    case 'help':
      return 'commands:\n  help   this list\n  tree   the span table\n  links  attached links\n';
    case 'tree': {
      const tree = router.describeTree();
      return tree === '' ? '(no spans)\n' : tree;
    }
    case 'links':
      return router.links.map((l) => `${l.connId} ${l.peerName ?? '?'} ${l.peerNodeId ?? ''}`.trimEnd()).join('\n') + '\n';
    default:
      return `unknown command '${cmd}'; try help\n`;
  }
}

const encoder = new TextEncoder();

/** Split an answer into the reply lines sent (each with its \n), cut to the bounds. */
export function shellReplyLines(text: string, maxLines = SHELL_MAX_LINES, maxLineBytes = SHELL_MAX_LINE_BYTES): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  for (const l of lines) {
    if (out.length === maxLines) {
      out.push(`... ${lines.length - maxLines} more lines not shown (limit ${maxLines})\n`);
      break;
    }
    out.push(cutLine(l, maxLineBytes) + '\n');
  }
  return out;
}

function cutLine(line: string, maxBytes: number): string {
  if (encoder.encode(line).length <= maxBytes) return line;
  let s = line.slice(0, maxBytes);
  while (encoder.encode(s).length > maxBytes - 3) s = s.slice(0, -1);
  return s + '...';
}

/**
 * Answer a DBG_SHELL one-way message on `iocom`, one reply per line. A
 * reply the link cannot take (it is closing, or the peer does not read and
 * its queue is full) ends the answer there: the peer loses only the rest.
 */
export function onShellMessage(router: ShellTarget, iocom: Iocom, msg: Message): void {
  if ((msg.header.cmd & DMSGF.BASECMDMASK) !== DMSG.DBG_SHELL || msg.header.cmd & DMSGF.REPLY) return;
  const text = answerShell(router, new TextDecoder().decode(msg.aux).replace(/\0.*$/s, ''));
  for (const line of shellReplyLines(text)) {
    if (!iocom.isOpen) return;
    try {
      iocom.sendOneWay(DMSG.DBG_SHELL, { reply: true, aux: encoder.encode(line + '\0') });
    } catch {
      return;
    }
  }
}

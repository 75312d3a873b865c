/**
 * The asking side of DBG_SHELL: send one command and collect every reply
 * line. A DBG_SHELL answer has no end marker (libdmsg and our router send one
 * DBG_SHELL|REPLY per line), so a LNK_PING is sent right after the command:
 * both peers answer messages in order, so when the PING's reply arrives every
 * line of the answer has arrived before it. No quiet-period timer, no
 * guessing.
 */
import { DMSG, DMSGF } from '../wire/constants.ts';
import type { Iocom } from '../iocom/iocom.ts';

/**
 * Run `line` on the peer's debug shell and resolve with the reply texts in
 * order (each with its trailing NUL removed; lines end in "\n" as sent).
 * Rejects as `iocom.ping()` does (the link ends, `signal` aborts).
 */
export async function runShellCommand(iocom: Iocom, line: string, signal?: AbortSignal): Promise<string[]> {
  const replies: string[] = [];
  const decoder = new TextDecoder();
  const sub = iocom.messages$.subscribe((m) => {
    if ((m.header.cmd & DMSGF.BASECMDMASK) === DMSG.DBG_SHELL && (m.header.cmd & DMSGF.REPLY) !== 0) replies.push(decoder.decode(m.aux).replace(/\0[\s\S]*$/, ''));
  });
  try {
    iocom.sendOneWay(DMSG.DBG_SHELL, { aux: new TextEncoder().encode(`${line}\0`) });
    await iocom.ping(signal);
    return replies;
  } finally {
    sub.unsubscribe();
  }
}

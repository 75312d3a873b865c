/**
 * The `observe` hook of a lockspace's host: each DLM message sent or
 * received as a `DlmMessageEvent` (for traces and tests). A throwing observer
 * is reported through `host.callbackError`, never to the message path.
 */
import { latin1 } from './byte-key.ts';
import type { LockspaceHost } from './lockspace-host.ts';
import { MSG, MSG_NAMES, type DlmMessage } from './message.ts';

/** Report `m` to `host.observe` (the caller checks that it is set). */
export function observeMessage(host: LockspaceHost, lockspace: string, direction: 'send' | 'recv', from: number, to: number, m: DlmMessage): void {
  const named = m.type === MSG.REQUEST || m.type === MSG.LOOKUP || m.type === MSG.REMOVE;
  try {
    host.observe!({
      direction,
      from,
      to,
      lockspace,
      type: MSG_NAMES[m.type] ?? String(m.type),
      lkid: m.lkid,
      remid: m.remid,
      nodeid: m.nodeid,
      rqmode: m.rqmode,
      grmode: m.grmode,
      bastmode: m.bastmode,
      result: m.result,
      exflags: m.exflags,
      sbflags: m.sbflags,
      name: named ? latin1(m.extra) : '',
    });
  } catch (err) {
    host.callbackError(err);
  }
}

/**
 * Received recovery messages (spec §3.8): the acceptance filter, the
 * answers to other members' requests (STATUS, NAMES, LOOKUP, LOCK) and the
 * routing of replies to the run awaiting them. Never throws: anything
 * malformed, early or stale is counted (`stats.recovery.rcomIgnored`) and
 * dropped.
 */
import { DlmError } from '../errors.ts';
import type { Lockspace } from '../lockspace.ts';
import { DLM_ERRNO } from '../constants.ts';
import { decodeRcom, DLM_CMD, DLM_RCOM_FIXED_LEN, DLM_VERSION, encodeRcom, RCOM, type DlmRcom } from '../message.ts';
import { answerNames, mastersFor, recoverDirLookup } from './directory-rebuild.ts';
import { answerLock } from './lock-rebuild.ts';
import { encodeRcomLock, encodeStatusReply, membersKey, RS_NEED_SLOTS, statusRequestFlags } from './rcom-payloads.ts';
import type { RecoveryDriver } from './recovery-driver.ts';
import { sendRcom } from './recovery-run.ts';
import { RS, RS_ALL } from './recovery-status.ts';
import { lsflagsOf } from './nodir.ts';

/** Handle RCOM bytes from `from` on lockspace `ls` driven by `d`. */
export function receiveRcom(ls: Lockspace, d: RecoveryDriver, from: number, bytes: Uint8Array): void {
  let rc: DlmRcom;
  try {
    const dec = decodeRcom(bytes);
    if (dec.header.nodeid !== from) throw new DlmError('EBADMSG', `h_nodeid ${dec.header.nodeid} is not the sender ${from}`);
    rc = dec.rcom;
  } catch (err) {
    ls.refuse(err instanceof DlmError ? err.code : 'EBADMSG');
    return;
  }
  const ignore = (): void => void ls.stats.recovery.rcomIgnored++;
  if (from === ls.ourNodeid) return ignore();
  const reply = (type: number, result: number, buf: Uint8Array): void =>
    sendRcom(ls, from, { type, result, id: rc.id, seq: BigInt(d.seq), seqReply: rc.seq, buf });
  const member = ls.members.includes(from);
  // A request shows the sender's lockspace exists (a reply may come from its node's -ESRCH answer).
  if (rc.type <= RCOM.LOCK) d.run?.peerAlive(from);
  switch (rc.type) {
    case RCOM.STATUS:
      // Answered in any state: status 0 while stopped means "not ready".
      d.pushStatus ??= (to, id, seqReply, flags) => sendStatus(ls, d, to, id, seqReply, flags);
      const flags = statusRequestFlags(rc.buf);
      sendStatus(ls, d, from, rc.id, rc.seq, flags);
      d.polled(from, rc.id, rc.seq, flags, d.answered);
      return;
    case RCOM.NAMES: {
      if (!member || !(d.status & RS.NODES)) return ignore();
      // One sorted dump per asker and run (a repeated request pages through it, never rebuilds it).
      let cached = d.namesCache.get(from);
      if (!cached || cached.seq !== d.seq || cached.askSeq !== rc.seq) {
        cached = { seq: d.seq, askSeq: rc.seq, names: mastersFor(ls, from) };
        d.namesCache.set(from, cached);
      }
      reply(RCOM.NAMES_REPLY, 0, answerNames(cached.names, rc.buf));
      return;
    }
    case RCOM.LOOKUP: {
      if (!member || !(d.status & RS.DIR) || !d.run) return ignore();
      if (rc.buf.length === 0 || rc.buf.length > 64 || ls.dirNodeOfName(rc.buf) !== ls.ourNodeid) {
        reply(RCOM.LOOKUP_REPLY, -1, new Uint8Array(0));
        return;
      }
      reply(RCOM.LOOKUP_REPLY, recoverDirLookup(d.run, rc.buf, from), new Uint8Array(0));
      return;
    }
    case RCOM.LOCK: {
      // Only during a run: a LOCK while running would add a master copy the member never recovered (unbounded).
      if (!member || !(d.status & RS.DIR) || !d.run) return ignore();
      const { result, echo } = answerLock(ls, from, rc.buf);
      // NODIR: a master copy rebuilt in this run survives this node's own purge of master copies (nodir.ts).
      if (ls.nodir && echo && (result === 0 || result === DLM_ERRNO.EEXIST)) {
        const copy = ls.lockById(echo.remid);
        if (copy) d.rebuiltCopies.add(copy);
      }
      reply(RCOM.LOCK_REPLY, result, echo ? encodeRcomLock(echo) : new Uint8Array(0));
      return;
    }
    default:
      // A reply: only the run that asked takes it.
      if (!d.run || !d.run.reply(rc, from)) ignore();
  }
}

/**
 * Our status and config; when asked for (§3.8), the slot table too: the one
 * assigned in this run (the low node), or, while running (not recovering:
 * a node that saw no change, e.g. created with the new list), the current one.
 */
function sendStatus(ls: Lockspace, d: RecoveryDriver, to: number, id: bigint, seqReply: bigint, flags: number): void {
  const status = d.answered; // 0 with the gate closed: acts as stopped
  const table = d.runSlots ?? (status === RS_ALL ? d.slots : null);
  const slots = flags & RS_NEED_SLOTS && table !== null ? table : undefined;
  sendRcom(ls, to, { type: RCOM.STATUS_REPLY, result: status, id, seq: BigInt(d.seq), seqReply, buf: encodeStatusReply({ lvblen: ls.lvblen, lsflags: lsflagsOf(ls), generation: d.generation, key: membersKey(ls.members), ourSlot: d.slot, slots }) });
}

/**
 * The STATUS_REPLY (-ESRCH, lvblen 0xFFFFFFFF: "not ready") a node sends for
 * a STATUS naming a lockspace it does not have; null for anything else.
 */
export function notReadyReply(ourNodeid: number, from: number, bytes: Uint8Array): Uint8Array | null {
  if (bytes.length < DLM_RCOM_FIXED_LEN || bytes[14] !== DLM_CMD.RCOM) return null;
  let rc: DlmRcom;
  let lockspace: number;
  try {
    const dec = decodeRcom(bytes);
    if (dec.header.nodeid !== from || dec.rcom.type !== RCOM.STATUS) return null;
    rc = dec.rcom;
    lockspace = dec.header.lockspace;
  } catch {
    return null;
  }
  return encodeRcom(
    { version: DLM_VERSION, lockspace, nodeid: ourNodeid },
    { type: RCOM.STATUS_REPLY, result: DLM_ERRNO.ESRCH, id: rc.id, seq: 0n, seqReply: rc.seq, buf: encodeStatusReply({ lvblen: 0xffffffff, generation: 0, key: 0 }) },
  );
}

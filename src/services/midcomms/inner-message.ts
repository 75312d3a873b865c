/**
 * What `send()` accepts: a complete inner DLM message (spec §3.6), checked
 * before it is queued, and stamped with our version and node id on its way
 * out.
 */
import { DLM_CMD, OFF, SIZE } from './constants.ts';
import { MidcommsError } from './errors.ts';
import { writeHeader } from './frame-encoder.ts';

/** Null when `message` is a MSG (>= 88 bytes) or RCOM (>= 48) whose `h_length` is its length and that fits an OPTS frame. */
function bad(why: string): MidcommsError {
  return new MidcommsError('BAD_MESSAGE', why);
}

export function checkInnerMessage(message: Uint8Array): MidcommsError | null {
  if (!(message instanceof Uint8Array) || message.length < SIZE.HEADER) return bad('a message is a Uint8Array of at least 16 bytes');
  const length = message[OFF.LENGTH]! | (message[OFF.LENGTH + 1]! << 8);
  if (length !== message.length) return bad(`h_length ${length} is not the message's ${message.length} bytes`);
  const cmd = message[OFF.CMD];
  const min = cmd === DLM_CMD.MSG ? SIZE.MIN_MSG : cmd === DLM_CMD.RCOM ? SIZE.MIN_RCOM : 0;
  if (min === 0) return bad(`h_cmd must be MSG (1) or RCOM (2), got ${cmd}`);
  if (message.length < min) return bad(`h_cmd ${cmd} needs at least ${min} bytes, got ${message.length}`);
  if (message.length > SIZE.MAX_MESSAGE - SIZE.OPTS) return bad(`at most ${SIZE.MAX_MESSAGE - SIZE.OPTS} bytes fit in an OPTS frame, got ${message.length}`);
  return null;
}

/** A copy of `message` with `h_version` and `h_nodeid` set (the rest as it is). */
export function stampInner(message: Uint8Array, version: number, nodeid: number): Uint8Array {
  const m = message.slice();
  writeHeader(m, 0, version, m[4]! | (m[5]! << 8) | (m[6]! << 16) | (m[7]! << 24), nodeid, m.length, m[OFF.CMD]!);
  return m;
}

/**
 * `dmsg decode [FILE|-]`: decode a captured DMSG byte stream and print one
 * line per message. Reads the input as a stream, so a capture of any size
 * uses at most one message of memory beyond the read buffer.
 */
import { createReadStream } from 'node:fs';
import { cmdHeaderBytes, cmdName } from '../../wire/cmd.ts';
import { DMSG, DMSGF, doAlign } from '../../wire/constants.ts';
import { DmsgError, hex } from '../../wire/errors.ts';
import { decodeLnkConn, decodeLnkSpan } from '../../wire/ext/index.ts';
import { FrameDecoder } from '../../wire/frame-decoder.ts';
import { describeHeader } from '../../wire/header.ts';
import type { Message } from '../../wire/message.ts';
import { CommandError, type Command, type CommandContext, type TextSink } from '../command.ts';

/** Aux bytes shown by --verbose. */
const AUX_PREVIEW = 64;

function jsonSafe(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? hex(v, 1) : v));
}

/** Printable text of the first aux bytes (non-printables escaped). */
export function auxPreview(aux: Uint8Array): string {
  let s = '';
  for (const b of aux.subarray(0, AUX_PREVIEW)) {
    if (b === 0x0a) s += '\\n';
    else if (b === 0x5c) s += '\\\\';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return aux.length > AUX_PREVIEW ? `${s}... (${aux.length} bytes)` : s;
}

/** Detail lines for --verbose: known extended headers decoded, aux previewed. */
function details(msg: Message): string[] {
  const lines: string[] = [];
  const base = msg.header.cmd & DMSGF.BASECMDMASK;
  try {
    if (base === DMSG.LNK_CONN || base === DMSG.LNK_CONN_V2) lines.push(`lnk_conn ${jsonSafe(decodeLnkConn(msg.header.cmd, msg.ext))}`);
    else if (base === DMSG.LNK_SPAN) lines.push(`lnk_span ${jsonSafe(decodeLnkSpan(msg.ext))}`);
  } catch (err) {
    lines.push(`${cmdName(base)} ext does not decode: ${(err as Error).message}`);
  }
  if (msg.aux.length > 0) lines.push(`aux "${auxPreview(msg.aux)}"`);
  if (msg.swapped) lines.push('sent big-endian (reversed magic)');
  return lines;
}

async function* input(path: string | undefined, stdin: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  if (path === undefined || path === '-') {
    yield* stdin;
    return;
  }
  try {
    for await (const chunk of createReadStream(path)) yield chunk as Uint8Array;
  } catch (err) {
    throw new CommandError('READ_FAILED', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Decode a stream, writing one line per message; returns the count. Throws DmsgError on bad bytes. */
export async function decodeStream(source: AsyncIterable<Uint8Array>, out: TextSink, verbose = false): Promise<number> {
  const decoder = new FrameDecoder();
  const msgs: Message[] = [];
  let offset = 0;
  let count = 0;
  const flush = (): void => {
    for (const m of msgs) {
      out.write(`${hex(offset)}  ${describeHeader(m.header)}\n`);
      if (verbose) for (const d of details(m)) out.write(`            ${d}\n`);
      offset += cmdHeaderBytes(m.header.cmd) + doAlign(m.header.auxBytes);
      count++;
    }
    msgs.length = 0;
  };
  try {
    for await (const chunk of source) {
      decoder.pushInto(chunk, msgs);
      flush();
    }
    decoder.end();
  } catch (err) {
    // Messages completed before the bad bytes are still printed.
    flush();
    if (err instanceof DmsgError && !(err instanceof CommandError)) {
      throw new CommandError(err.code, `at byte ${offset} (after ${count} messages): ${err.message}`, { cause: err });
    }
    throw err;
  }
  return count;
}

export const decodeCommand: Command = {
  name: 'decode',
  summary: 'decode a DMSG byte stream (a capture file, or stdin) and print each message',
  usage: 'dmsg decode [FILE|-]',
  details: 'Each line: the message\'s byte offset, then its command, flags, msgid, circuit, sequence, aux size and error.\nExit 1 on a framing or CRC error (messages before it are printed).',
  options: {
    verbose: { type: 'boolean', short: 'v', description: 'also print LNK_CONN/LNK_SPAN fields and an aux preview' },
  },
  maxPositionals: 1,
  async run({ values, positionals, io }: CommandContext): Promise<number> {
    await decodeStream(input(positionals[0], io.stdin), io.stdout, values['verbose'] === true);
    return 0;
  },
};

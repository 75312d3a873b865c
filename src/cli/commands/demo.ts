/**
 * `dmsg demo` (what `npm start` runs): encode an LNK_CONN, an LNK_SPAN and a
 * DBG_SHELL with aux, decode them back from small reads, print them, then
 * measure this machine's header throughput for about `--seconds`.
 */
import { measureHeaders } from '../../../bench/wire.ts';
import { formatNumber } from '../../../bench/harness.ts';
import { cmdName } from '../../wire/cmd.ts';
import { DMSG, DMSGF, DMSG_PEER, DMSG_PFSTYPE } from '../../wire/constants.ts';
import { encodeLnkConn, encodeLnkSpan } from '../../wire/ext/index.ts';
import { FrameDecoder } from '../../wire/frame-decoder.ts';
import { byteLength, concatBytes, encodeMessage, type MessageInput } from '../../wire/frame-encoder.ts';
import { describeHeader } from '../../wire/header.ts';
import type { Message } from '../../wire/message.ts';
import { CommandError, numberOption, type Command, type CommandContext } from '../command.ts';
import { auxPreview } from './decode.ts';

/** Read size used to feed the decoder: small, so messages visibly straddle reads. */
const READ_SIZE = 100;

const CLUSTER = '5b1c7a2e-3f4d-4e8a-9c6b-0d2e4f6a8b1c';
const NODE = 'c0ffee00-1234-4abc-8def-0123456789ab';

function demoMessages(): MessageInput[] {
  return [
    {
      header: { cmd: (DMSG.LNK_CONN | DMSGF.CREATE) >>> 0, msgid: 0x1n, salt: 0x1000 },
      ext: encodeLnkConn({ peerId: CLUSTER, pfsId: NODE, peerType: DMSG_PEER.CLUSTER, peerMask: 1n << BigInt(DMSG_PEER.BLOCK), peerLabel: 'demo-a' }),
    },
    {
      header: { cmd: (DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0, msgid: 0x2n, salt: 0x1001 },
      ext: encodeLnkSpan({ peerId: CLUSTER, pfsId: NODE, peerType: DMSG_PEER.BLOCK, pfsType: DMSG_PFSTYPE.SERVER, dist: 0, peerLabel: 'demo-a/vn0', pfsLabel: 'SERIAL-0001' }),
    },
    {
      header: { cmd: (DMSG.DBG_SHELL | DMSGF.CREATE) >>> 0, msgid: 0x3n, salt: 0x1002 },
      aux: new TextEncoder().encode('uname -a\n'),
    },
  ];
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'encode and decode a few DMSG messages, then measure header throughput',
  usage: 'dmsg demo',
  options: {
    seconds: { type: 'string', valueName: 'N', description: 'about how long to measure header throughput (default 1; 0 skips it)' },
  },
  async run({ values, io }: CommandContext): Promise<number> {
    const seconds = numberOption(values, 'seconds', 1, 0, 60, 'demo');
    const out = io.stdout;
    const inputs = demoMessages();

    out.write('Encoding:\n');
    const encoded = inputs.map((m) => encodeMessage(m));
    encoded.forEach((chunks, i) => {
      const ext = chunks[0]!.length - 64;
      const aux = inputs[i]!.aux?.length ?? 0;
      const pad = byteLength(chunks) - chunks[0]!.length - aux;
      const parts = ['64 header', ext ? `${ext} ext` : '', aux ? `${aux} aux` : '', pad ? `${pad} pad` : ''].filter(Boolean).join(' + ');
      out.write(`  ${cmdName(inputs[i]!.header.cmd ?? 0).padEnd(10)} ${String(byteLength(chunks)).padStart(4)} bytes: ${parts}\n`);
    });

    const stream = concatBytes(encoded.flat());
    out.write(`\nDecoding the ${stream.length}-byte stream from ${READ_SIZE}-byte reads:\n`);
    const decoder = new FrameDecoder();
    const decoded: Message[] = [];
    for (let o = 0; o < stream.length; o += READ_SIZE) decoder.pushInto(stream.subarray(o, o + READ_SIZE), decoded);
    decoder.end();
    for (const m of decoded) {
      out.write(`  ${describeHeader(m.header)}\n`);
      if (m.aux.length > 0) out.write(`      aux "${auxPreview(m.aux)}"\n`);
    }
    const same = decoded.length === inputs.length && decoded.every((m, i) => m.header.cmd === inputs[i]!.header.cmd && m.header.msgid === inputs[i]!.header.msgid);
    if (!same) throw new CommandError('DEMO_MISMATCH', `decoded messages differ from the encoded ones`);
    out.write(`  round trip ok: ${decoded.length} messages, header and aux CRCs verified\n`);

    if (seconds > 0) {
      out.write(`\nHeader throughput on this machine (one core, ~${seconds} s):\n`);
      // Two metrics share the budget.
      const r = measureHeaders({ seconds: seconds / 2, baselines: false });
      out.write(`  encode + CRC:     ${formatNumber(r.encodeCrcHeadersPerSec).padStart(12)} headers/s\n`);
      out.write(`  decode + verify:  ${formatNumber(r.decodeVerifyHeadersPerSec).padStart(12)} headers/s\n`);
      out.write(`  (more: npm run bench, or dmsg bench headers)\n`);
    }
    return 0;
  },
};

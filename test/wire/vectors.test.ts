import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import { DMSG, DMSGF, DMSG_ERR, DMSG_PROTO, DMSG_HDR_MAGIC, DMSG_HDR_MAGIC_REV, DMSG_AUX_MAX, DMSG_HDR_MAX, DMSG_ALIGN } from '../../src/wire/constants.ts';
import { crc32c } from '../../src/wire/crc32c.ts';
import { describeHeader } from '../../src/wire/header.ts';
import { loadSession, loadVectors } from '../helpers/vectors.ts';

const { cases, constants } = loadVectors();

describe('known-answer vectors from the C implementation', () => {
  it('has the cases we expect', () => {
    expect(cases.length).toBeGreaterThanOrEqual(36);
    expect(cases.filter((c) => c.byteOrder === 'big').length).toBeGreaterThanOrEqual(1);
  });

  for (const c of cases) {
    it(`decodes ${c.name} to its fields`, () => {
      const d = new FrameDecoder();
      const msgs = d.push(c.encoded);
      d.end();
      expect(msgs).toHaveLength(1);
      const m = msgs[0]!;
      expect(m.header).toEqual(c.header);
      expect(m.ext.length).toBe(c.hdrBytes - 64);
      expect(Buffer.from(m.aux).equals(Buffer.from(c.aux))).toBe(true);
      expect(m.swapped).toBe(c.byteOrder === 'big');
    });

    if (c.byteOrder === 'little') {
      it(`encodes ${c.name} to exactly its bytes`, () => {
        const ext = c.encoded.subarray(64, c.hdrBytes);
        const chunks = encodeMessage({ header: c.header, ext, aux: c.aux });
        const bytes = concatBytes(chunks);
        expect(bytes.length).toBe(c.encoded.length);
        expect(Buffer.from(bytes).equals(Buffer.from(c.encoded))).toBe(true);
        // The aux goes out as the caller's own buffer: no copy.
        if (c.aux.length > 0) expect(chunks[1]).toBe(c.aux);
      });
    }
  }
});

describe('constants match sys/dmsg.h', () => {
  const ours: Record<string, number> = {
    DMSG_HDR_MAGIC, DMSG_HDR_MAGIC_REV, DMSG_HDR_MAX, DMSG_AUX_MAX, DMSG_ALIGN,
    DMSGF_CREATE: DMSGF.CREATE, DMSGF_DELETE: DMSGF.DELETE, DMSGF_REPLY: DMSGF.REPLY, DMSGF_ABORT: DMSGF.ABORT,
    DMSGF_REVTRANS: DMSGF.REVTRANS, DMSGF_REVCIRC: DMSGF.REVCIRC, DMSGF_FLAGS: DMSGF.FLAGS, DMSGF_PROTOS: DMSGF.PROTOS,
    DMSGF_CMDS: DMSGF.CMDS, DMSGF_SIZE: DMSGF.SIZE, DMSGF_CMDSWMASK: DMSGF.CMDSWMASK, DMSGF_BASECMDMASK: DMSGF.BASECMDMASK,
    DMSGF_TRANSMASK: DMSGF.TRANSMASK, DMSGF_BASEFLAGS: DMSGF.BASEFLAGS, DMSGF_CMDF_EXPECT_ACK: DMSGF.CMDF_EXPECT_ACK,
    DMSG_PROTO_LNK: DMSG_PROTO.LNK, DMSG_PROTO_DBG: DMSG_PROTO.DBG, DMSG_PROTO_HM2: DMSG_PROTO.HM2, DMSG_PROTO_BLK: DMSG_PROTO.BLK, DMSG_PROTO_VOP: DMSG_PROTO.VOP,
    DMSG_LNK_PAD: DMSG.LNK_PAD, DMSG_LNK_PING: DMSG.LNK_PING, DMSG_LNK_AUTH: DMSG.LNK_AUTH, DMSG_LNK_CONN: DMSG.LNK_CONN,
    DMSG_LNK_SPAN: DMSG.LNK_SPAN, DMSG_LNK_ERROR: DMSG.LNK_ERROR, DMSG_DBG_SHELL: DMSG.DBG_SHELL,
    DMSG_BLK_OPEN: DMSG.BLK_OPEN, DMSG_BLK_CLOSE: DMSG.BLK_CLOSE, DMSG_BLK_READ: DMSG.BLK_READ, DMSG_BLK_WRITE: DMSG.BLK_WRITE,
    DMSG_BLK_FLUSH: DMSG.BLK_FLUSH, DMSG_BLK_FREEBLKS: DMSG.BLK_FREEBLKS, DMSG_BLK_ERROR: DMSG.BLK_ERROR,
    DMSG_ERR_NOSUPP: DMSG_ERR.NOSUPP, DMSG_ERR_LOSTLINK: DMSG_ERR.LOSTLINK, DMSG_ERR_IO: DMSG_ERR.IO, DMSG_ERR_PARAM: DMSG_ERR.PARAM, DMSG_ERR_CANTCIRC: DMSG_ERR.CANTCIRC,
  };
  for (const [name, value] of Object.entries(ours)) {
    it(name, () => expect((value >>> 0).toString(16)).toBe(Number(constants[name]).toString(16)));
  }
});

describe('captured libdmsg session', () => {
  for (const dir of ['c2s', 's2c'] as const) {
    it(`decodes ${dir} message by message with every CRC and salt number checked`, () => {
      const { bytes, decoded } = loadSession(dir);
      const d = new FrameDecoder();
      const msgs = d.push(bytes);
      d.end();
      expect(msgs.length).toBe(decoded.messages.length);
      msgs.forEach((m, i) => {
        const want = decoded.messages[i]!;
        expect(m.header.salt & 0xff, `salt sequence of message ${i}`).toBe(i);
        expect('0x' + m.header.cmd.toString(16).padStart(8, '0')).toBe(want.cmd);
        expect('0x' + m.header.msgid.toString(16).padStart(16, '0')).toBe(want.msgid);
        expect('0x' + m.header.circuit.toString(16).padStart(16, '0')).toBe(want.circuit);
        expect('0x' + m.header.hdrCrc.toString(16).padStart(8, '0')).toBe(want.hdr_crc);
        expect(m.header.error).toBe(want.error);
        expect(describeHeader(m.header)).toContain(String(want.name));
        // Re-encoding gives the captured bytes back.
        const again = concatBytes(encodeMessage({ header: m.header, ext: m.ext, aux: m.aux }));
        expect(Buffer.from(again).toString('hex')).toBe(want.hex);
      });
    });
  }
});

describe('CRC-32C check values', () => {
  it('matches the vectors README', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(64))).toBe(0x03c8eb67);
  });
});

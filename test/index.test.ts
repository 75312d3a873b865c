import { describe, expect, it } from 'vitest';
import * as api from '../src/index.ts';

describe('public API (src/index.ts)', () => {
  it('exports the names the issues promise', () => {
    for (const name of ['FrameDecoder', 'encodeMessage', 'ProtocolError', 'Iocom', 'Transaction', 'TransactionError', 'Router', 'memoryPair', 'listenTcp', 'connectTcp', 'reconnectingDialer', 'DMSG', 'DMSGF', 'DMSG_ERR', 'encodeLnkSpan', 'decodeLnkConn', 'serviceClusterId']) {
      expect(api, name).toHaveProperty(name);
    }
  });

  it('round-trips a message through the exported codec', () => {
    const d = new api.FrameDecoder();
    const bytes = api.concatBytes(api.encodeMessage({ header: { cmd: api.DMSG.LNK_PING, msgid: 7n } }));
    const [m] = d.push(bytes);
    expect(m!.header.msgid).toBe(7n);
    expect(() => d.end()).not.toThrow();
    expect(() => new api.FrameDecoder().push(new Uint8Array(64))).toThrow(api.ProtocolError);
  });
});

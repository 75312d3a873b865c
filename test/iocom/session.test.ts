/**
 * The iocom against bytes captured from a libdmsg session (a DragonFly
 * client and server exchanging LNK_CONN and LNK_SPAN): it must answer each
 * side the way the other DragonFly side did.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { firstValueFrom } from 'rxjs';
import { Iocom } from '../../src/iocom/iocom.ts';
import type { Transaction } from '../../src/iocom/transaction.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import { copyMessage, type Message } from '../../src/wire/message.ts';
import { RawPeer } from '../helpers/raw-peer.ts';

const FIX = new URL('../fixtures/', import.meta.url);
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIX)));
interface Decoded { messages: Array<{ offset: number; length: number; cmd: string; msgid: string; circuit: string; error: number; salt: string }> }
const json = (name: string): Decoded => JSON.parse(readFileSync(new URL(name, FIX), 'utf8')) as Decoded;

function decodeAll(bytes: Uint8Array): Message[] {
  const out: Message[] = [];
  new FrameDecoder().pushInto(bytes, out);
  return out.map(copyMessage);
}

/** Re-encode a captured message with another msgid (its salt, cmd, error and ext kept). */
function withMsgid(m: Message, msgid: bigint): Uint8Array {
  return concatBytes(encodeMessage({ header: { ...m.header, msgid }, ext: m.ext, aux: m.aux }));
}

interface Side {
  io: Iocom;
  peer: RawPeer;
  accepted: Transaction[];
  close(): void;
}

function side(): Side {
  const [mine, theirs] = memoryPair();
  const peer = new RawPeer(theirs);
  const io = new Iocom(mine, { name: 'dut', pingIntervalMs: 0, linkTimeoutMs: 0 });
  const accepted: Transaction[] = [];
  io.transactions$.subscribe((tx) => {
    accepted.push(tx);
    tx.rx$.subscribe({ error: () => {} });
    tx.result(0);
  });
  return { io, peer, accepted, close: () => io.destroy() };
}

const u8 = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const fields = (m: Message): object => ({ cmd: m.header.cmd >>> 0, msgid: m.header.msgid, circuit: m.header.circuit, error: m.header.error, auxBytes: m.header.auxBytes });

describe('captured libdmsg session', () => {
  const s2c = load('session-handshake-s2c.bin');
  const c2s = load('session-handshake-c2s.bin');
  const server = decodeAll(s2c);
  const client = decodeAll(c2s);

  it('the fixtures decode as their JSON says', () => {
    for (const [msgs, j] of [[server, json('session-handshake-s2c.decoded.json')], [client, json('session-handshake-c2s.decoded.json')]] as const) {
      expect(msgs.map((m) => '0x' + (m.header.cmd >>> 0).toString(16).padStart(8, '0'))).toEqual(j.messages.map((x) => x.cmd));
      expect(msgs.map((m) => m.header.msgid)).toEqual(j.messages.map((x) => BigInt(x.msgid)));
      expect(msgs.map((m) => m.header.salt & 0xff)).toEqual(j.messages.map((_, i) => i));
    }
    expect(server.map((m) => m.header.cmd & DMSGF.BASECMDMASK)).toEqual([DMSG.LNK_CONN, DMSG.LNK_SPAN, DMSG.LNK_ERROR]);
  });

  it('acts as the DragonFly client: fed the server bytes, it answers as the captured client did', async () => {
    const s = side();
    // The client sends its LNK_CONN first (seq 0), with the captured client's extended header.
    const conn = s.io.open(client[0]!.header.cmd & DMSGF.BASECMDMASK, { ext: client[0]!.ext });
    const connRx: Message[] = [];
    conn.rx$.subscribe({ next: (m) => connRx.push(m), error: () => {} });
    // The server's CONN and SPAN, byte for byte, in small pieces.
    const firstTwo = s2c.subarray(0, server[0]!.ext.length + 64 + server[1]!.ext.length + 64);
    for (let o = 0; o < firstTwo.length; o += 100) s.peer.writeRaw(firstTwo.subarray(o, o + 100));
    s.peer.skipSeq(2);
    const got = await s.peer.waitFor(3);
    expect(s.accepted.map((t) => [t.msgid, t.icmd])).toEqual([[server[0]!.header.msgid, DMSG.LNK_CONN], [server[1]!.header.msgid, DMSG.LNK_SPAN]]);
    expect(u8(s.accepted[1]!.first!.ext)).toEqual(u8(server[1]!.ext));
    // What we wrote matches the captured client: cmd, flags, msgid, error (salt: only the sequence number).
    expect(got.map((m) => m.header.salt & 0xff)).toEqual([0, 1, 2]);
    expect(fields(got[0]!)).toEqual({ ...fields(client[0]!), msgid: conn.msgid });
    expect(u8(got[0]!.ext)).toEqual(u8(client[0]!.ext));
    expect(got.slice(1).map(fields)).toEqual(client.slice(1).map(fields));
    for (const m of got.slice(1)) expect(m.header.cmd >>> 0).toBe((DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.REPLY | DMSGF.REVTRANS) >>> 0);
    // The server's answer to our CONN (its third message, with our msgid in place of the captured client's).
    s.peer.writeRaw(withMsgid(server[2]!, conn.msgid));
    s.peer.skipSeq();
    await s.peer.roundTrip();
    expect(connRx.map(fields)).toEqual([{ ...fields(server[2]!), msgid: conn.msgid }]);
    expect(s.io.isOpen).toBe(true);
    expect(s.io.stats()).toMatchObject({ weOpened: 1, peerOpened: 2, dropped: 0 });
    s.close();
  });

  it('acts as the DragonFly server: fed the client bytes, it answers as the captured server did', async () => {
    const s = side();
    const conn = s.io.open(server[0]!.header.cmd & DMSGF.BASECMDMASK, { ext: server[0]!.ext });
    const span = s.io.open(server[1]!.header.cmd & DMSGF.BASECMDMASK, { ext: server[1]!.ext });
    const rx: Message[] = [];
    conn.rx$.subscribe({ next: (m) => rx.push(m), error: () => {} });
    span.rx$.subscribe({ next: (m) => rx.push(m), error: () => {} });
    s.peer.writeRaw(c2s.subarray(0, 64 + client[0]!.ext.length));
    s.peer.skipSeq();
    const got = await s.peer.waitFor(3);
    expect(s.accepted.map((t) => t.msgid)).toEqual([client[0]!.header.msgid]);
    expect(got.map((m) => m.header.salt & 0xff)).toEqual([0, 1, 2]);
    expect(fields(got[0]!)).toEqual({ ...fields(server[0]!), msgid: conn.msgid });
    expect(fields(got[1]!)).toEqual({ ...fields(server[1]!), msgid: span.msgid });
    expect(u8(got[0]!.ext)).toEqual(u8(server[0]!.ext));
    expect(u8(got[1]!.ext)).toEqual(u8(server[1]!.ext));
    expect(fields(got[2]!)).toEqual(fields(server[2]!));
    // The client's replies, renumbered to our msgids.
    s.peer.writeRaw(withMsgid(client[1]!, conn.msgid));
    s.peer.writeRaw(withMsgid(client[2]!, span.msgid));
    s.peer.skipSeq(2);
    await s.peer.roundTrip();
    expect(rx.map(fields)).toEqual([{ ...fields(client[1]!), msgid: conn.msgid }, { ...fields(client[2]!), msgid: span.msgid }]);
    expect(conn.rxCreated && span.rxCreated).toBe(true);
    expect(s.io.isOpen).toBe(true);
    s.close();
  });

  it('checks the captured salt numbering: the same bytes one sequence number late are refused (BAD_SEQ)', async () => {
    const s = side();
    s.peer.send({ cmd: DMSG.LNK_PAD }); // seq 0: the capture's seq 0 now arrives as the second message
    s.peer.writeRaw(s2c);
    const r = await firstValueFrom(s.io.closed$);
    expect(r.kind === 'error' && (r.error as { code?: string }).code).toBe('BAD_SEQ');
  });
});

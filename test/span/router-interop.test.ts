/**
 * The Router against the captured libdmsg session (test/fixtures/
 * session-handshake-{c2s,s2c}.bin, a DragonFly client and server): the
 * server's bytes are played into a Router, and what the Router writes back is
 * decoded byte by byte and compared with what the DragonFly client wrote.
 * The server's span is then relayed onward to a second link, and a span the
 * Router advertises is checked as a DragonFly peer would read it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Router } from '../../src/span/router.ts';
import { decodePathRecord } from '../../src/span/path-record.ts';
import { serviceClusterId } from '../../src/span/service-id.ts';
import { memoryPair } from '../../src/transport/memory.ts';
import { DMSG, DMSGF, DMSG_PEER } from '../../src/wire/constants.ts';
import { decodeLnkConnSeed } from '../../src/wire/ext/lnk-conn.ts';
import { decodeLnkSpan } from '../../src/wire/ext/lnk-span.ts';
import { FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';
import type { Message } from '../../src/wire/message.ts';
import { RawPeer } from '../helpers/raw-peer.ts';
import { until } from '../helpers/mesh.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const s2c = new Uint8Array(readFileSync(`${FIXTURES}session-handshake-s2c.bin`));
const c2s = new Uint8Array(readFileSync(`${FIXTURES}session-handshake-c2s.bin`));
/** Offsets of the captured messages (see the .decoded.json files). */
const S2C = { conn: [0, 512], span: [512, 960], connAck: [960, 1024] } as const;
const C2S = { conn: [0, 512], connAck: [512, 576], spanAck: [576, 640] } as const;
const SERVER_CONN_MSGID = 0x7f0f680020e0n;
const SERVER_SPAN_MSGID = 0x7f0f68002670n;
const ACK = (DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.REPLY | DMSGF.REVTRANS) >>> 0; // 0xa80fff01
const NODE_ID = '0a0b0c0d-0000-4000-8000-000000000001';
const RNSS = 0x100;

function slice(b: Uint8Array, [from, to]: readonly [number, number]): Uint8Array {
  return b.subarray(from, to);
}

/** Every byte the peer wrote, decoded by a fresh decoder: all consumed, salts 0, 1, 2 … */
function decodeAll(peer: RawPeer): Message[] {
  const all = concatBytes(peer.bytes);
  const dec = new FrameDecoder();
  const out = dec.push(all);
  expect(dec.stats.bytesIn).toBe(all.length);
  const wireBytes = out.reduce((n, m) => n + ((m.header.cmd & DMSGF.SIZE) << 6) + ((m.aux.length + 63) & ~63), 0);
  expect(wireBytes, 'every byte belongs to a message').toBe(all.length);
  out.forEach((m, i) => expect(m.header.salt & 0xff, `salt of message ${i}`).toBe(i & 0xff));
  return out;
}

/**
 * The bytes of one message we wrote, with the salt's upper 24 bits and the
 * header CRC masked (libdmsg puts random bits there; CRCs differ with them).
 */
function masked(bytes: Uint8Array): number[] {
  const b = Array.from(bytes);
  b[5] = b[6] = b[7] = 0;
  b[0x3c] = b[0x3d] = b[0x3e] = b[0x3f] = 0;
  return b;
}

/** Byte offset of each decoded message in the peer's stream. */
function offsets(msgs: Message[]): number[] {
  let off = 0;
  return msgs.map((m) => {
    const at = off;
    off += ((m.header.cmd & DMSGF.SIZE) << 6) + ((m.aux.length + 63) & ~63);
    return at;
  });
}

function attachRaw(router: Router): RawPeer {
  const [a, b] = memoryPair();
  router.attach(a);
  return new RawPeer(b);
}

function newRouter(): Router {
  return new Router({ name: 'ts-router', nodeId: NODE_ID, localRnss: RNSS, iocom: { pingIntervalMs: 0, linkTimeoutMs: 0 } });
}

describe('interop with the captured libdmsg session', () => {
  it('answers the DragonFly server as the DragonFly client did, and relays its span onward', async () => {
    const router = newRouter();
    const server = attachRaw(router);
    // The server's LNK_CONN and LNK_SPAN, verbatim.
    server.writeRaw(slice(s2c, S2C.conn));
    server.writeRaw(slice(s2c, S2C.span));
    await server.until(() => server.received.length >= 3, 'CONN and two acks');
    const [ourConn] = server.received as [Message];
    // The server's ack of the client's CONN names the client's msgid: ours instead.
    const dec = new FrameDecoder();
    const [capturedAck] = dec.push(slice(s2c, S2C.connAck)) as [Message];
    expect(capturedAck.header.cmd >>> 0).toBe(ACK);
    server.writeRaw(concatBytes(encodeMessage({ header: { ...capturedAck.header, msgid: ourConn.header.msgid }, ext: capturedAck.ext })));
    await until(() => router.spans().length === 1, 'the server span is in the table');

    const msgs = decodeAll(server);
    expect(msgs).toHaveLength(3);
    const at = offsets(msgs);
    const bytes = concatBytes(server.bytes);
    // 1. Our LNK_CONN: seed layout, CREATE, circuit 0.
    expect(ourConn.header.cmd >>> 0).toBe((DMSG.LNK_CONN | DMSGF.CREATE) >>> 0);
    expect(ourConn.header.cmd & DMSGF.SIZE).toBe(8);
    expect(ourConn.header.circuit).toBe(0n);
    expect(ourConn.header.msgid).not.toBe(0n);
    expect(ourConn.header.error).toBe(0);
    const conn = decodeLnkConnSeed(ourConn.ext);
    // pfs_mask all ones (libdmsg relays nothing to a 0 mask), cl_label empty
    // (2015 libdmsg filters on a non-empty one), our name in fs_label.
    expect(conn).toMatchObject({ mediaId: NODE_ID, peerMask: 0xffffffffffffffffn, pfsMask: 0xffffffffffffffffn, peerType: DMSG_PEER.ROUTER, protoVersion: 1, clLabel: '', fsLabel: 'ts-router' });
    // The rest of its header is laid out as the DragonFly client's (same cmd, circuit, sizes).
    const dfConn = masked(slice(c2s, C2S.conn)).slice(0, 64);
    const ourConnHead = masked(bytes.subarray(at[0]!, at[0]! + 64));
    for (const off of [0, 1, 2, 3, 4, 0x10, 0x20, 0x24, 0x28, 0x2c]) expect(ourConnHead.slice(off, off + 4), `CONN header @0x${off.toString(16)}`).toEqual(dfConn.slice(off, off + 4));
    // 2. and 3. The acks of the server's CONN and SPAN: byte for byte what the DragonFly client sent.
    expect(msgs[1]!.header.cmd >>> 0).toBe(ACK);
    expect(msgs[1]!.header.msgid).toBe(SERVER_CONN_MSGID);
    expect(masked(bytes.subarray(at[1]!, at[1]! + 64))).toEqual(masked(slice(c2s, C2S.connAck)));
    expect(msgs[2]!.header.cmd >>> 0).toBe(ACK);
    expect(msgs[2]!.header.msgid).toBe(SERVER_SPAN_MSGID);
    expect(masked(bytes.subarray(at[2]!, at[2]! + 64))).toEqual(masked(slice(c2s, C2S.spanAck)));
    expect(bytes.length).toBe(512 + 64 + 64);

    // The span as discovery shows it.
    const [span] = router.spans();
    expect(span).toMatchObject({
      service: 'libdmsg-ref', instance: 'ROOT', clusterId: '00112233-4455-6677-8899-001122334455',
      instanceId: 'fedcba98-7654-3210-fedc-deadbeef0001', peerType: 3, dist: 0, via: 'c1', viaName: '', node: null, path: [],
    });
    expect(router.links[0]!.peerName).toBe('');
    expect(router.links[0]!.peerNodeId).toBeNull(); // nil media id

    // A second link, whose peer is another DragonFly node (its CONN: the server's, verbatim).
    const other = attachRaw(router);
    other.writeRaw(slice(s2c, S2C.conn));
    await other.until(() => other.received.length >= 3, 'CONN, relayed SPAN, ack');
    const out = decodeAll(other);
    expect(out).toHaveLength(3);
    // Our CONN, the spans we relay, then the answer to the peer's CONN (so a
    // Router peer knows our initial spans are in once it has the answer).
    expect(out[0]!.header.cmd >>> 0).toBe((DMSG.LNK_CONN | DMSGF.CREATE) >>> 0);
    expect(out[2]!.header.cmd >>> 0).toBe(ACK);
    expect(out[2]!.header.msgid).toBe(SERVER_CONN_MSGID);
    const relayed = out[1]!;
    expect(relayed.header.cmd >>> 0).toBe((DMSG.LNK_SPAN | DMSGF.CREATE) >>> 0); // 0x80001207: seed layout, 448 bytes
    expect(relayed.header.circuit).toBe(0n);
    expect(relayed.header.error).toBe(0);
    const [original] = new FrameDecoder().push(slice(s2c, S2C.span)) as [Message];
    const f = decodeLnkSpan(relayed.ext);
    const o = decodeLnkSpan(original.ext);
    expect(f).toEqual({ ...o, dist: o.dist + 1, rnss: (o.rnss + RNSS) >>> 0 });
    // Byte for byte the server's ext, but dist (ext 0x30) and rnss (ext 0x34).
    const want = Array.from(original.ext);
    const got = Array.from(relayed.ext);
    for (let i = 0x30; i < 0x38; i++) want[i] = got[i] = 0;
    expect(got).toEqual(want);
    // Our path record in aux (DragonFly ignores aux on a SPAN).
    expect(decodePathRecord(relayed.aux)).toEqual([NODE_ID]);
    await router.close();
  });

  it('sends its own spans as well-formed LNK_SPAN CREATEs that a DragonFly peer can open transactions on', async () => {
    const router = newRouter();
    const ad = router.advertise({ service: 'svc', instance: 'inst' });
    const served: Message[] = [];
    ad.transactions$.subscribe((tx) => {
      tx.rx$.subscribe({ next: (m) => served.push(m), complete: () => tx.close(), error: () => {} });
      tx.reply(0, { aux: new TextEncoder().encode('pong') });
    });
    const peer = attachRaw(router);
    peer.writeRaw(slice(s2c, S2C.conn)); // a DragonFly CONN: peer_mask ~0, ROUTER
    peer.skipSeq();
    await peer.until(() => peer.received.length >= 3, 'CONN, ack, SPAN');
    const msgs = decodeAll(peer);
    const span = msgs.find((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.LNK_SPAN)!;
    expect(span.header.cmd >>> 0).toBe(0x80001207);
    expect(span.header.circuit).toBe(0n);
    expect(span.header.msgid).not.toBe(0n);
    const f = decodeLnkSpan(span.ext);
    expect(f).toMatchObject({
      peerId: serviceClusterId('svc'), peerLabel: 'svc', pfsLabel: 'inst', peerType: 4, pfsType: 0, protoVersion: 1, dist: 0, rnss: 0, status: 0,
    });
    expect(f.pfsId).toBe(ad.span.instanceId);
    expect(decodePathRecord(span.aux)).toEqual([NODE_ID]);
    // Ack it as libdmsg does, then open a transaction on it (circuit = span msgid, REVCIRC: the span is the router's).
    peer.send({ cmd: ACK, msgid: span.header.msgid });
    peer.send({ cmd: (DMSG.BLK_OPEN | DMSGF.CREATE | DMSGF.REVCIRC) >>> 0, msgid: 0x1234n, circuit: span.header.msgid });
    await peer.until(() => peer.received.some((m) => m.header.msgid === 0x1234n), 'the service answers');
    const answer = peer.received.find((m) => m.header.msgid === 0x1234n)!;
    expect(answer.header.cmd >>> 0).toBe((DMSG.LNK_ERROR | DMSGF.CREATE | DMSGF.DELETE | DMSGF.REPLY | DMSGF.REVTRANS) >>> 0);
    expect(answer.header.circuit).toBe(span.header.msgid);
    expect(new TextDecoder().decode(answer.aux)).toBe('pong');
    expect(served.map((m) => m.header.cmd & DMSGF.BASECMDMASK)).toEqual([DMSG.BLK_OPEN]);
    // Close it from the peer: the router frees it.
    peer.send({ cmd: (DMSG.LNK_ERROR | DMSGF.DELETE | DMSGF.REVCIRC) >>> 0, msgid: 0x1234n, circuit: span.header.msgid });
    await until(() => router.links[0]!.iocom.stats().peerOpened === 1, 'transaction freed (only the peer CONN left)');
    decodeAll(peer);
    await router.close();
  });
});

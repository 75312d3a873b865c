/**
 * What the LNK_AUTH attack tests share: a keyless attacker that speaks raw
 * DMSG over loopback TCP (it copies, edits and forwards the auth messages it
 * reads; it never signs anything), in-process relays made by startRelay, and
 * the checks that an attacker got nothing but LNK_AUTH back.
 */
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { firstValueFrom } from 'rxjs';
import { expect } from 'vitest';
import { startRelay, type RelayConfig, type RelayHandle } from '../../src/cli/relay-daemon.ts';
import type { LinkCloseReason } from '../../src/iocom/errors.ts';
import type { Iocom } from '../../src/iocom/iocom.ts';
import { connectTcp, listenTcp } from '../../src/transport/tcp.ts';
import { connectTls, listenTls } from '../../src/transport/tls.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { FrameDecoder } from '../../src/wire/frame-decoder.ts';
import { copyMessage, type Message } from '../../src/wire/message.ts';
import { RawPeer } from '../helpers/raw-peer.ts';

/** HELLO/PROOF layout of the auth record (see src/iocom/auth.ts): ext[5] phase, ext[6] flags, ext[7] role, ext[32..63] nonce. */
export const PHASE_HELLO = 1;
export const PHASE_PROOF = 2;
export const ROLE_INITIATOR = 1;
export const ROLE_RESPONDER = 2;

export interface Relay {
  handle: RelayHandle;
  port: number;
  log: string[];
}

/** A relay on 127.0.0.1 with the given keys; its log lines are kept. */
export async function relay(name: string, config: Omit<RelayConfig, 'name' | 'listen' | 'log'>): Promise<Relay> {
  const log: string[] = [];
  const handle = await startRelay({
    name,
    listen: ['127.0.0.1:0'],
    advertise: [`svc-${name}`],
    log: (l) => log.push(l),
    ...config,
    iocom: { authTimeoutMs: 20_000, ...config.iocom },
  });
  const port = Number(handle.addresses[0]!.split(':').pop());
  return { handle, port, log };
}

/** One attacker connection to a relay: a raw peer, and the relay's iocom for that link. */
export interface AttackLink {
  peer: RawPeer;
  stream: Duplex;
  /** The relay-side iocom of this link (taken when the relay's HELLO arrives). */
  victim: Iocom;
  /** The relay's HELLO. */
  hello: Message;
}

/** Dial `r` and wait for its HELLO. */
export async function dialVictim(r: Relay): Promise<AttackLink> {
  const before = new Set(r.handle.router.links.map((l) => l.iocom));
  const stream = await connectTcp({ host: '127.0.0.1', port: r.port });
  const peer = new RawPeer(stream);
  const [hello] = await peer.waitFor(1);
  expect(hello!.header.cmd & DMSGF.BASECMDMASK).toBe(DMSG.LNK_AUTH);
  const mine = r.handle.router.links.map((l) => l.iocom).filter((io) => !before.has(io));
  expect(mine).toHaveLength(1);
  return { peer, stream, victim: mine[0]!, hello: hello! };
}

/** The ext of the victim's HELLO with the nonce and role replaced (the claimed key goes in the aux). */
export function forgedHello(template: Message, nonce: Uint8Array, role: number): Uint8Array {
  const ext = new Uint8Array(template.ext); // a copy (a Buffer's slice() would be a view)
  ext.set(nonce, 32);
  ext[7] = role;
  return ext;
}

export function nonceOf(hello: Message): Uint8Array {
  return new Uint8Array(hello.ext.subarray(32, 64));
}

/** Send an auth record (ext + aux) as the next message of `peer`. */
export function sendAuth(peer: RawPeer, ext: Uint8Array, aux: Uint8Array): void {
  peer.send({ cmd: DMSG.LNK_AUTH }, ext, aux);
}

/** Wait until `peer` holds an auth message of `phase` (or the stream ends: then undefined). */
export async function authMessage(peer: RawPeer, phase: number): Promise<Message | undefined> {
  const find = (): Message | undefined => peer.received.find((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.LNK_AUTH && m.ext[5] === phase);
  if (find() !== undefined || peer.stream.destroyed || peer.stream.readableEnded) return find();
  try {
    await peer.until(() => find() !== undefined, `auth phase ${phase}`);
  } catch {
    return undefined;
  }
  return find();
}

/**
 * After the attack: send a PING and a DBG_SHELL tree, then wait until the
 * victim closes the link. Resolves with the close reason; rejects at once if
 * the victim answers the PING (the attacker got in).
 */
export async function probeAndExpectClosed(l: AttackLink): Promise<LinkCloseReason> {
  if (!l.stream.destroyed) {
    l.peer.send({ cmd: DMSG.LNK_PING });
    l.peer.send({ cmd: DMSG.DBG_SHELL }, undefined, new TextEncoder().encode('tree\0'));
  }
  const answered = l.peer
    .until(() => l.peer.received.some((m) => m.header.cmd === (DMSG.LNK_PING | DMSGF.REPLY)), 'PING reply')
    .then(() => { throw new Error('authentication bypassed: the victim answered the attacker\'s PING'); }, () => new Promise<never>(() => {}));
  const reason = await Promise.race([firstValueFrom(l.victim.closed$), answered]);
  if (!l.stream.closed) await once(l.stream, 'close');
  return reason;
}

/** Every message the attacker received on `l` is LNK_AUTH (no PING reply, no LNK_CONN, no shell output). */
export function onlyAuthReceived(l: AttackLink): void {
  const cmds = l.peer.received.map((m) => m.header.cmd & DMSGF.BASECMDMASK);
  expect(cmds.every((c) => c === DMSG.LNK_AUTH), `attacker received ${cmds.map((c) => c.toString(16)).join(',')}`).toBe(true);
}

export function authFailure(reason: LinkCloseReason): { code: string; message: string } {
  expect(reason.kind).toBe('error');
  const e = (reason as { error: Error & { code?: string } }).error;
  return { code: String(e.code), message: e.message };
}

/** One connection through a man in the middle: what it accepted from the dialler (a) and what it dialled (b). */
export interface MitmFlow {
  a: Duplex;
  b: Duplex;
  /** Messages decoded from each direction (copies), and the raw bytes. */
  aToB: Message[];
  bToA: Message[];
  rawAToB: Uint8Array[];
  rawBToA: Uint8Array[];
  /** Forward a's bytes to b (turn off to take over that direction). */
  forwardAToB: boolean;
}

export interface Mitm {
  port: number;
  flows: MitmFlow[];
  /** Resolves with the next flow once both of its ends are connected. */
  nextFlow(): Promise<MitmFlow>;
  close(): Promise<void>;
}

export interface MitmOptions {
  /** TLS material the man in the middle serves with and the CA it dials with (a certificate the victims accept). */
  tls?: { key: Buffer; cert: Buffer };
  /** Where it forwards to. */
  targetPort: number;
}

/**
 * A man in the middle on 127.0.0.1: accepts a connection, dials the target,
 * and forwards bytes both ways (terminating TLS on each side when `tls` is
 * given), decoding and recording each direction.
 */
export async function startMitm(o: MitmOptions): Promise<Mitm> {
  const flows: MitmFlow[] = [];
  const waiters: Array<(f: MitmFlow) => void> = [];
  const ready: MitmFlow[] = [];
  const record = (into: Message[], raw: Uint8Array[]): ((chunk: Uint8Array) => void) => {
    const decoder = new FrameDecoder();
    let broken = false;
    return (chunk) => {
      raw.push(new Uint8Array(chunk));
      if (broken) return;
      const out: Message[] = [];
      try {
        decoder.pushInto(chunk, out);
      } catch {
        broken = true;
      }
      for (const m of out) into.push(copyMessage(m));
    };
  };
  const onAccepted = (a: Duplex): void => {
    a.on('error', () => {});
    a.pause();
    const dial = o.tls
      ? connectTls({ host: '127.0.0.1', port: o.targetPort, ca: o.tls.cert })
      : connectTcp({ host: '127.0.0.1', port: o.targetPort });
    dial.then(
      (b) => {
        b.on('error', () => {});
        const flow: MitmFlow = { a, b, aToB: [], bToA: [], rawAToB: [], rawBToA: [], forwardAToB: true };
        flows.push(flow);
        const recA = record(flow.aToB, flow.rawAToB);
        const recB = record(flow.bToA, flow.rawBToA);
        a.on('data', (chunk: Uint8Array) => {
          recA(chunk);
          if (flow.forwardAToB && !b.destroyed) b.write(chunk);
        });
        b.on('data', (chunk: Uint8Array) => {
          recB(chunk);
          if (!a.destroyed) a.write(chunk);
        });
        a.once('close', () => b.destroy());
        b.once('close', () => a.destroy());
        a.resume();
        const w = waiters.shift();
        if (w) w(flow);
        else ready.push(flow);
      },
      () => a.destroy(),
    );
  };
  const server = o.tls
    ? await listenTls({ host: '127.0.0.1', port: 0, key: o.tls.key, cert: o.tls.cert }, onAccepted)
    : await listenTcp({ host: '127.0.0.1', port: 0 }, onAccepted);
  return {
    port: server.address().port,
    flows,
    nextFlow: () => {
      const f = ready.shift();
      return f ? Promise.resolve(f) : new Promise<MitmFlow>((r) => waiters.push(r));
    },
    async close() {
      for (const f of flows) {
        f.a.destroy();
        f.b.destroy();
      }
      await server.close();
    },
  };
}

/** The LNK_AUTH messages among `msgs`, as phases (1 HELLO, 2 PROOF). */
export function authPhases(msgs: readonly Message[]): number[] {
  return msgs.filter((m) => (m.header.cmd & DMSGF.BASECMDMASK) === DMSG.LNK_AUTH).map((m) => m.ext[5]!);
}

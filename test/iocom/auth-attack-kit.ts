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
import { connectTcp } from '../../src/transport/tcp.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import type { Message } from '../../src/wire/message.ts';
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

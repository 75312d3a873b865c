/** Options of one iocom (one link), with their defaults and validation. */
import type { KeyObject } from 'node:crypto';
import { DMSG_AUX_MAX, DMSG_HDR_MAX } from '../wire/constants.ts';
import { InvalidArgumentError } from '../wire/errors.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import type { LinkRole } from '../util/link-role.ts';
import type { Budget } from './budget.ts';

export interface IocomOptions {
  /** A name for logs and errors (e.g. the peer address). @default 'iocom' */
  name?: string;
  /** Largest extended header accepted from the peer, bytes. @default 2048 */
  maxHeaderBytes?: number;
  /** Largest aux data accepted from the peer, bytes. @default 1048576 */
  maxAuxBytes?: number;
  /** Open transactions allowed on this link (both directions together). @default 65536 */
  maxTransactions?: number;
  /** Deepest stacking of sub-transactions (1 = top level only). @default 32 */
  maxDepth?: number;
  /**
   * Bytes queued for sending (not yet accepted by the socket, plus the
   * socket's own buffer) above which `writable` turns false. @default 1 MiB
   */
  writeHighWaterMark?: number;
  /**
   * Hard cap on queued bytes. A message that would take the queue past it
   * means the peer does not read what it is sent: the link is shed (closed
   * with LinkError LIMIT and a log line) and the send returns false instead of
   * queueing; it never throws. Producers stay below it with `writable` /
   * `whenWritable()`. @default 64 MiB
   */
  maxQueuedBytes?: number;
  /**
   * Bytes of one event-loop turn's messages written at once, before the
   * turn ends (the rest go at its end, as always): 0 writes a turn's
   * messages as one block. For relays: forwarding a batch in two writes
   * lets the next hop start on its first part (see write-queue.ts). @default 0
   */
  earlyFlushBytes?: number;
  /** Decoded messages held while reading is paused, before the stream is paused. @default 1024 */
  readHighWaterMark?: number;
  /** Send LNK_PING after this many ms without receiving anything; 0 disables keepalive. @default 1000 */
  pingIntervalMs?: number;
  /** Declare the link lost after this many ms without receiving anything. @default 10000 */
  linkTimeoutMs?: number;
  /** This node's Ed25519 key pair, to authenticate with LNK_AUTH. */
  keyPair?: { privateKey: KeyObject; publicKey: KeyObject };
  /** Peers' Ed25519 public keys; when given, the peer must prove one of them. */
  allowedPeerKeys?: KeyObject[];
  /** How long the authentication may take, ms. @default 10000 */
  authTimeoutMs?: number;
  /**
   * While the peer still owes its proof of an allowed key, the most bytes
   * of one unfinished message held for it: an unauthenticated peer gets a
   * small receive buffer, not maxAuxBytes; past it the link is shed (LinkError LIMIT).
   * @default 4096
   */
  preAuthBufferBytes?: number;
  /** The daemon-wide Budget this link takes part in (shared by all links of a process). @default none */
  budget?: Budget;
  /** Time source of every timer of the link (keepalive, link timeout, auth and close deadlines). @default systemClock */
  clock?: Clock;
  /**
   * One line per event worth an operator's attention: a link shed for a
   * limit, a handler that threw. No timestamp. @default none
   */
  log?: (line: string) => void;
  /**
   * Which end of the connection this is, for LNK_AUTH: 'initiator' (dialled)
   * or 'responder' (accepted). @default the role the transport recorded on
   * the stream (connect/accept/memoryPair); required with keys otherwise.
   */
  role?: LinkRole;
  /**
   * What LNK_AUTH proofs are bound to. @default on a TLS socket its keying
   * material exporter ('EXPORTER-dmsg-mesh-auth', 32 bytes), else nothing.
   * `null` binds to nothing; bytes (1..255) bind to a value both ends share.
   */
  channelBinding?: Uint8Array | null;
}

export type ResolvedIocomOptions = Readonly<Required<Omit<IocomOptions, 'keyPair' | 'allowedPeerKeys' | 'log' | 'role' | 'channelBinding' | 'budget'>>> & {
  readonly keyPair: IocomOptions['keyPair'];
  readonly allowedPeerKeys: readonly KeyObject[] | undefined;
  readonly log: ((line: string) => void) | undefined;
  readonly role: LinkRole | undefined;
  readonly channelBinding: Uint8Array | null | undefined;
  readonly budget: Budget | undefined;
};

export const IOCOM_DEFAULTS = Object.freeze({
  name: 'iocom',
  maxHeaderBytes: DMSG_HDR_MAX,
  maxAuxBytes: DMSG_AUX_MAX,
  maxTransactions: 65536,
  maxDepth: 32,
  writeHighWaterMark: 1 << 20,
  maxQueuedBytes: 64 << 20,
  earlyFlushBytes: 0,
  readHighWaterMark: 1024,
  pingIntervalMs: 1000,
  linkTimeoutMs: 10000,
  authTimeoutMs: 10000,
  preAuthBufferBytes: 4096,
});

const KNOWN = new Set([...Object.keys(IOCOM_DEFAULTS), 'keyPair', 'allowedPeerKeys', 'clock', 'log', 'role', 'channelBinding', 'budget']);

function int(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
}

export function resolveIocomOptions(o: IocomOptions = {}): ResolvedIocomOptions {
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new InvalidArgumentError(`unknown iocom option '${k}'; known options: ${[...KNOWN].join(', ')}`);
  const { clock = systemClock, log, budget, ...rest } = o;
  const r = { ...IOCOM_DEFAULTS, ...rest };
  if (typeof r.name !== 'string') throw new InvalidArgumentError(`name must be a string, got ${typeof r.name}`);
  if (r.maxHeaderBytes % 64 !== 0) throw new InvalidArgumentError(`maxHeaderBytes must be a multiple of 64, got ${r.maxHeaderBytes}`);
  int('maxHeaderBytes', r.maxHeaderBytes, 64, 16320);
  int('maxAuxBytes', r.maxAuxBytes, 0, 0x7fffffc0);
  int('maxTransactions', r.maxTransactions, 1, 1 << 24);
  int('maxDepth', r.maxDepth, 1, 1024);
  int('writeHighWaterMark', r.writeHighWaterMark, 1, 2 ** 31);
  int('maxQueuedBytes', r.maxQueuedBytes, r.writeHighWaterMark, 2 ** 40);
  int('earlyFlushBytes', r.earlyFlushBytes, 0, 2 ** 31);
  int('readHighWaterMark', r.readHighWaterMark, 1, 1 << 24);
  int('pingIntervalMs', r.pingIntervalMs, 0, 2 ** 31 - 1);
  int('linkTimeoutMs', r.linkTimeoutMs, 0, 2 ** 31 - 1);
  int('authTimeoutMs', r.authTimeoutMs, 1, 2 ** 31 - 1);
  int('preAuthBufferBytes', r.preAuthBufferBytes, 64, 2 ** 31);
  if (r.pingIntervalMs > 0 && r.linkTimeoutMs > 0 && r.linkTimeoutMs <= r.pingIntervalMs)
    throw new InvalidArgumentError(`linkTimeoutMs (${r.linkTimeoutMs}) must be larger than pingIntervalMs (${r.pingIntervalMs})`);
  if (o.keyPair !== undefined && (o.keyPair.privateKey?.asymmetricKeyType !== 'ed25519' || o.keyPair.publicKey?.asymmetricKeyType !== 'ed25519'))
    throw new InvalidArgumentError('keyPair must be an Ed25519 key pair (crypto.generateKeyPairSync("ed25519"))');
  if (o.allowedPeerKeys !== undefined) {
    if (!Array.isArray(o.allowedPeerKeys) || o.allowedPeerKeys.length === 0) throw new InvalidArgumentError('allowedPeerKeys must be a non-empty array of Ed25519 public keys');
    for (const k of o.allowedPeerKeys) if (k?.asymmetricKeyType !== 'ed25519' || k.type !== 'public') throw new InvalidArgumentError('allowedPeerKeys must hold Ed25519 public KeyObjects');
  }
  if (typeof clock?.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function')
    throw new InvalidArgumentError('clock must be a Clock (now, setTimeout, clearTimeout), e.g. systemClock or a ManualClock');
  if (log !== undefined && typeof log !== 'function') throw new InvalidArgumentError(`log must be a function, got ${typeof log}`);
  if (o.role !== undefined && o.role !== 'initiator' && o.role !== 'responder') throw new InvalidArgumentError(`role must be 'initiator' or 'responder', got ${String(o.role)}`);
  if (o.channelBinding !== undefined && o.channelBinding !== null && (!(o.channelBinding instanceof Uint8Array) || o.channelBinding.length < 1 || o.channelBinding.length > 255))
    throw new InvalidArgumentError('channelBinding must be null or a Uint8Array of 1 to 255 bytes');
  if (budget !== undefined && (typeof budget !== 'object' || budget === null || typeof (budget as Budget).join !== 'function'))
    throw new InvalidArgumentError('budget must be a Budget (new Budget(options)), shared by the links of a daemon');
  return Object.freeze({ ...r, keyPair: o.keyPair, allowedPeerKeys: o.allowedPeerKeys ? [...o.allowedPeerKeys] : undefined, clock, log, budget, role: o.role, channelBinding: o.channelBinding ? o.channelBinding.slice() : o.channelBinding });
}

/**
 * Daemon-wide budgets (see budget.ts). The defaults keep a relay's memory
 * for links in the low hundreds of MB whatever its peers do: 64 MiB of
 * partial messages, 128 MiB of queued writes, 131,072 open transactions
 * (about 1 KiB each with their relay state), 1024 connections of which 128
 * may be authenticating at once.
 */
export interface BudgetOptions {
  /** Links open at once; a link past it is refused (shed at once). @default 1024 */
  maxConnections?: number;
  /** Links that still owe authentication, at once; one past it is refused. @default 128 */
  maxUnauthenticated?: number;
  /** Bytes of messages not yet delivered (partial messages, held messages), all links together. @default 64 MiB */
  maxBufferedBytes?: number;
  /** Bytes queued for writing, all links together. @default 128 MiB */
  maxQueuedBytes?: number;
  /** Open transactions, all links together (both directions). @default 131072 */
  maxTransactions?: number;
}

export type ResolvedBudgetOptions = Readonly<Required<BudgetOptions>>;

export const BUDGET_DEFAULTS: ResolvedBudgetOptions = Object.freeze({
  maxConnections: 1024,
  maxUnauthenticated: 128,
  maxBufferedBytes: 64 << 20,
  maxQueuedBytes: 128 << 20,
  maxTransactions: 131072,
});

export function resolveBudgetOptions(o: BudgetOptions = {}): ResolvedBudgetOptions {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(`budget options must be an object, got ${String(o)}`);
  for (const k of Object.keys(o)) if (!Object.hasOwn(BUDGET_DEFAULTS, k)) throw new InvalidArgumentError(`unknown budget option '${k}'; known options: ${Object.keys(BUDGET_DEFAULTS).join(', ')}`);
  const r = { ...BUDGET_DEFAULTS, ...o };
  int('maxConnections', r.maxConnections, 1, 1 << 24);
  int('maxUnauthenticated', r.maxUnauthenticated, 1, 1 << 24);
  int('maxBufferedBytes', r.maxBufferedBytes, 1, 2 ** 40);
  int('maxQueuedBytes', r.maxQueuedBytes, 1, 2 ** 40);
  int('maxTransactions', r.maxTransactions, 1, 1 << 30);
  return Object.freeze(r);
}

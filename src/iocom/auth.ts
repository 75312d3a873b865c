/**
 * Authentication with LNK_AUTH (specified by DragonFly, never implemented
 * there), version 2: a SIGMA-style signed handshake with Ed25519 keys,
 * modelled on SIGMA-I / Noise XX's "sign the transcript, bind the roles".
 *
 * ## Messages
 *
 * Each side sends one HELLO when the link starts: its role on this
 * connection (initiator = the side that dialled, responder = the side that
 * accepted), a fresh 32-byte nonce, and its public key if it has one. A side
 * proves its key with one PROOF, a signature over
 *
 *     'dmsg-mesh LNK_AUTH v2 proof' 0x00
 *     ‖ signer's role (1 byte: 1 initiator, 2 responder)
 *     ‖ signer's key (32) ‖ verifier has a key (1 byte: 0/1) ‖ verifier's key (32, zero if none)
 *     ‖ signer's nonce (32) ‖ verifier's nonce (32)
 *     ‖ channel binding length (1 byte) ‖ channel binding (0 or 32 bytes: the TLS exporter)
 *
 * Every field has a fixed length but the last, which is length-prefixed, so
 * two different transcripts never give the same bytes. The verifier builds
 * these bytes from what IT knows: its own role (so the signer's role is the
 * opposite one, whatever the peer claims), its own key and nonce, the key
 * and nonce of the peer's HELLO, and its own view of the channel.
 *
 * Order: the responder sends its PROOF as soon as the initiator's HELLO has
 * come (with an allowed key, if it requires one). The initiator sends its
 * PROOF only after the responder's PROOF verified (SIGMA's order); an
 * initiator that requires nothing sends it on the responder's HELLO. A side
 * that requires an allowed key accepts nothing but PAD and AUTH until the
 * peer's proof verifies, and sends nothing but AUTH until then.
 *
 * ## Why it resists the attacks of issue 7
 *
 * 1. Reflection. Version 1 signed ctx ‖ both challenges ‖ signer's key and
 *    sent a proof to anyone claiming an allowed key. An attacker connected
 *    to R1 and R2 (allowing each other), told R2 "I am R1" with R1's
 *    challenge, and handed R2's proof to R1 as its own. Now: on both of its
 *    connections the attacker dialled, so R1 and R2 are both responders and
 *    each signs role = responder; R1 verifies the attacker's proof as an
 *    initiator's (role = initiator), so R2's proof fails there, and so does
 *    any proof R1 gives out anywhere else. Claiming the responder role
 *    instead is refused at HELLO (both ends claim one role). The single-relay
 *    variant (its allow list holds its own key; two connections, each fed the
 *    other's nonce) fails the same way; reflecting a relay's own proof back on
 *    the same connection fails on the role too, and a HELLO that echoes our
 *    own nonce is refused before anything is signed.
 * 2. Replay of a recorded handshake. Every proof covers the verifier's fresh
 *    random nonce of this connection; a recorded proof covers an old one and
 *    fails (2^-256 chance of a nonce repeating).
 * 3. Relay between two live connections (a man in the middle M forwarding
 *    HELLOs and PROOFs between A, who dialled M, and B, whom M dialled).
 *    With TLS, A's TLS session is with M and M's another with B: the exporter
 *    values differ, so B's proof (bound to M–B) fails at A and A never signs;
 *    this holds even when M has a certificate A accepts. Without TLS (plain
 *    TCP, Unix sockets, memory), there is no channel to bind: the proofs show
 *    that the key holders A and B took part in this handshake, and M cannot
 *    make either accept a key it does not hold, but M can forward the whole
 *    session and, since nothing is encrypted or MACed, read, drop, alter or
 *    inject messages after the handshake. Plain links authenticate the
 *    endpoint, not the channel: use TLS (whose exporter binds the handshake)
 *    wherever the network is not trusted.
 *
 * Roles must be known: a link whose role is neither given (IocomOptions.role)
 * nor recorded by the transport is refused when authentication is on (a role
 * guessed from the peer's bytes would let the attacker choose it). Two ends
 * that claim the same role are refused with AUTH_FAILED; there is no
 * tie-break.
 *
 * Compatibility: with no keys configured no LNK_AUTH is ever sent and
 * received ones are ignored (DragonFly peers are undisturbed). A version-1
 * peer is refused with AUTH_FAILED naming the version.
 *
 * ## Wire form
 *
 * One-way LNK_AUTH (cmd 0x00001002), 64 bytes of extended header:
 *   ext[0..3] 'DMAU', ext[4] version 2, ext[5] phase (1 HELLO, 2 PROOF),
 *   ext[6] flags (1: sender has a key, 2: sender requires the peer's key,
 *   4: sender binds its proof to the channel), ext[7] sender's role
 *   (1 initiator, 2 responder), ext[8..31] zero, ext[32..63] the nonce (HELLO).
 *   aux: HELLO → the sender's raw 32-byte public key (if any);
 *        PROOF → the 64-byte Ed25519 signature.
 */
import { createHash, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import type { LinkRole } from '../util/link-role.ts';
import { DMSG_IOQ_ERROR } from '../wire/constants.ts';
import { InvalidArgumentError, ProtocolError } from '../wire/errors.ts';

const MAGIC = [0x44, 0x4d, 0x41, 0x55]; // 'DMAU'
/** The version of the auth record this node speaks. */
export const AUTH_VERSION = 2;
const HELLO = 1;
const PROOF = 2;
const F_HAS_KEY = 1;
const F_REQUIRES = 2;
const F_BOUND = 4;
const ROLE_BYTE: Readonly<Record<LinkRole, number>> = { initiator: 1, responder: 2 };
const NONCE_BYTES = 32;
const KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
/** The context string that starts every signed transcript (versioned). */
export const AUTH_CONTEXT = 'dmsg-mesh LNK_AUTH v2 proof';
const CONTEXT = new TextEncoder().encode(`${AUTH_CONTEXT}\0`);
const NO_KEY = new Uint8Array(KEY_BYTES);

export interface AuthMessage {
  ext: Uint8Array;
  aux: Uint8Array;
}

/** The raw 32-byte form of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
}

/** A short fingerprint of a public key for logs: first 8 bytes of its SHA-256, hex. */
export function keyFingerprint(raw: Uint8Array): string {
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

function failed(message: string, cause?: unknown): ProtocolError {
  return new ProtocolError('AUTH_FAILED', message, DMSG_IOQ_ERROR.KEYXCHGFAIL, cause === undefined ? undefined : { cause });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** The fields one PROOF covers. */
export interface TranscriptFields {
  signerRole: LinkRole;
  signerKey: Uint8Array;
  /** The verifier's raw key, or undefined when it has none. */
  verifierKey: Uint8Array | undefined;
  signerNonce: Uint8Array;
  verifierNonce: Uint8Array;
  /** The channel binding (TLS exporter), or undefined when the link has none. */
  channelBinding: Uint8Array | undefined;
}

/** The bytes a PROOF signs (see the file comment). Pure; exported for tests and other implementations. */
export function proofTranscript(f: TranscriptFields): Uint8Array {
  const cb = f.channelBinding ?? new Uint8Array(0);
  if (f.signerKey.length !== KEY_BYTES || (f.verifierKey && f.verifierKey.length !== KEY_BYTES)) throw new InvalidArgumentError('keys in a transcript are 32 bytes');
  if (f.signerNonce.length !== NONCE_BYTES || f.verifierNonce.length !== NONCE_BYTES) throw new InvalidArgumentError('nonces in a transcript are 32 bytes');
  if (cb.length > 255) throw new InvalidArgumentError(`a channel binding is at most 255 bytes, got ${cb.length}`);
  return Buffer.concat([
    CONTEXT,
    Uint8Array.of(ROLE_BYTE[f.signerRole]),
    f.signerKey,
    Uint8Array.of(f.verifierKey ? 1 : 0),
    f.verifierKey ?? NO_KEY,
    f.signerNonce,
    f.verifierNonce,
    Uint8Array.of(cb.length),
    cb,
  ]);
}

function roleName(byte: number): LinkRole | undefined {
  return byte === 1 ? 'initiator' : byte === 2 ? 'responder' : undefined;
}

function otherRole(role: LinkRole): LinkRole {
  return role === 'initiator' ? 'responder' : 'initiator';
}

export interface AuthStep {
  /** Messages to send now (bypassing the write gate). */
  send: AuthMessage[];
  /** Set when authentication failed: close the link with it. */
  error?: ProtocolError;
}

export interface AuthConfig {
  /** This node's Ed25519 key pair (it can prove itself). */
  keyPair?: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
  /** The peer must prove one of these keys. */
  allowedPeerKeys?: readonly KeyObject[] | undefined;
  /** Which end of the connection this is. Required when keyPair or allowedPeerKeys is given. */
  role?: LinkRole | undefined;
  /** Whether the link has a channel binding (known at once, e.g. "this is a TLS socket"). */
  channelBound?: boolean;
  /** The channel binding value, asked for when first needed (after the peer's HELLO). May throw. */
  channelBinding?: () => Uint8Array | undefined;
  /** Random bytes (nonces). @default crypto.randomBytes */
  random?: (n: number) => Uint8Array;
}

/** The LNK_AUTH state machine of one link. Pure apart from crypto: no I/O, no timers. */
export class AuthHandshake {
  readonly #keyPair: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
  readonly #ownRaw: Uint8Array | undefined;
  readonly #allowed: Map<string, Uint8Array> | undefined;
  readonly #role: LinkRole;
  readonly #nonce: Uint8Array;
  readonly #channelBound: boolean;
  readonly #channelBindingSource: () => Uint8Array | undefined;
  #channelBinding: Uint8Array | undefined;
  #peerHello = false;
  #peerRequires = false;
  #peerNonce: Uint8Array | undefined;
  #peerRaw: Uint8Array | undefined;
  #proofSent = false;
  #peerVerified = false;
  #peerSkipsAuth = false;

  constructor(config: AuthConfig = {}) {
    this.#keyPair = config.keyPair;
    this.#ownRaw = config.keyPair ? rawPublicKey(config.keyPair.publicKey) : undefined;
    this.#allowed = config.allowedPeerKeys ? new Map(config.allowedPeerKeys.map((k) => { const r = rawPublicKey(k); return [Buffer.from(r).toString('hex'), r]; })) : undefined;
    if (this.active && config.role === undefined)
      throw new InvalidArgumentError("LNK_AUTH needs the link's role: pass role 'initiator' (this side dialled) or 'responder' (it accepted); streams from connectTcp/listenTcp, TLS, Unix and memoryPair carry it");
    if (config.role !== undefined && config.role !== 'initiator' && config.role !== 'responder')
      throw new InvalidArgumentError(`role must be 'initiator' or 'responder', got ${String(config.role)}`);
    this.#role = config.role ?? 'initiator';
    this.#nonce = new Uint8Array((config.random ?? randomBytes)(NONCE_BYTES));
    if (this.#nonce.length !== NONCE_BYTES) throw new InvalidArgumentError(`random(${NONCE_BYTES}) returned ${this.#nonce.length} bytes`);
    this.#channelBound = config.channelBound ?? config.channelBinding !== undefined;
    this.#channelBindingSource = config.channelBinding ?? (() => undefined);
  }

  /** Authentication takes part on this link (we have a key or require one). */
  get active(): boolean { return this.#keyPair !== undefined || this.#allowed !== undefined; }
  /** The peer must prove an allowed key before anything else is accepted. */
  get required(): boolean { return this.#allowed !== undefined; }
  get peerVerified(): boolean { return this.#peerVerified; }
  /** The verified peer's raw public key. */
  get peerKey(): Uint8Array | undefined { return this.#peerVerified ? this.#peerRaw : undefined; }
  /** Which end of the connection this side is. */
  get role(): LinkRole { return this.#role; }

  /** May non-AUTH messages be sent now? */
  get gateOpen(): boolean {
    if (!this.active) return true;
    if (this.required && !this.#peerVerified) return false;
    if (this.#keyPair && !this.#proofSent) {
      // Waiting to prove ourselves, unless the peer does not ask for it.
      return this.#peerSkipsAuth || (this.#peerHello && !this.#peerRequires);
    }
    return true;
  }

  /** May a non-AUTH message from the peer be accepted now? */
  get acceptsMessages(): boolean {
    return !this.required || this.#peerVerified;
  }

  /** Our HELLO, to send when the link starts (nothing when inactive). */
  start(): AuthMessage[] {
    if (!this.active) return [];
    const ext = this.#record(HELLO);
    ext.set(this.#nonce, 32);
    return [{ ext, aux: this.#ownRaw ?? new Uint8Array(0) }];
  }

  /** A non-AUTH message came from a peer that never sent HELLO: it does not do authentication. */
  peerSentPlainMessage(): void {
    if (!this.#peerHello) this.#peerSkipsAuth = true;
  }

  /** Handle a received LNK_AUTH. Never throws. */
  receive(ext: Uint8Array, aux: Uint8Array): AuthStep {
    if (!this.active) return { send: [] }; // we take no part: ignore, as a DragonFly peer would
    if (ext.length < 64 || ext[0] !== MAGIC[0] || ext[1] !== MAGIC[1] || ext[2] !== MAGIC[2] || ext[3] !== MAGIC[3])
      return { send: [], error: failed("LNK_AUTH with an unknown format: expected magic 'DMAU'") };
    const version = ext[4]!;
    if (version !== AUTH_VERSION) {
      const why = version === 1 ? ' (a dmsg-mesh from before the reflection fix of issue 7; upgrade it)' : '';
      return { send: [], error: failed(`peer speaks LNK_AUTH version ${version}${why}: this node speaks version ${AUTH_VERSION} only`) };
    }
    const phase = ext[5];
    if (phase === HELLO) return this.#onHello(ext, aux);
    if (phase === PROOF) return this.#onProof(aux);
    return { send: [], error: failed(`LNK_AUTH with unknown phase ${phase}: expected 1 (HELLO) or 2 (PROOF)`) };
  }

  #record(phase: number): Uint8Array {
    const ext = new Uint8Array(64);
    ext.set(MAGIC, 0);
    ext[4] = AUTH_VERSION;
    ext[5] = phase;
    ext[6] = (this.#keyPair ? F_HAS_KEY : 0) | (this.required ? F_REQUIRES : 0) | (this.#channelBound ? F_BOUND : 0);
    ext[7] = ROLE_BYTE[this.#role];
    return ext;
  }

  #onHello(ext: Uint8Array, aux: Uint8Array): AuthStep {
    if (this.#peerHello) return { send: [], error: failed('peer sent a second LNK_AUTH HELLO') };
    this.#peerHello = true;
    const flags = ext[6]!;
    const peerRole = roleName(ext[7]!);
    if (peerRole === undefined) return { send: [], error: failed(`peer's HELLO names role ${ext[7]}: expected 1 (initiator) or 2 (responder)`) };
    if (peerRole === this.#role)
      return { send: [], error: failed(`both ends claim the role ${peerRole}: a link needs one initiator (the side that dialled) and one responder (the side that accepted)`) };
    this.#peerRequires = (flags & F_REQUIRES) !== 0;
    this.#peerNonce = ext.slice(32, 64);
    if (equalBytes(this.#peerNonce, this.#nonce)) return { send: [], error: failed("peer's HELLO carries our own nonce: a reflected HELLO") };
    if (flags & F_HAS_KEY) {
      if (aux.length !== KEY_BYTES) return { send: [], error: failed(`peer's HELLO carries a ${aux.length}-byte key: expected a 32-byte Ed25519 public key`) };
      this.#peerRaw = aux.slice();
    }
    const peerBound = (flags & F_BOUND) !== 0;
    if (peerBound !== this.#channelBound)
      return { send: [], error: failed(peerBound
        ? 'peer binds its proof to a TLS channel but this end has none (is TLS terminated by a proxy in between?)'
        : 'this end binds proofs to its TLS channel but the peer does not (is TLS terminated by a proxy in between?)') };
    if (this.#allowed) {
      if (!this.#peerRaw) return { send: [], error: failed(`peer presented no key, but this link requires one of ${this.#allowed.size} allowed keys`) };
      if (!this.#allowed.has(Buffer.from(this.#peerRaw).toString('hex')))
        return { send: [], error: failed(`peer key ${keyFingerprint(this.#peerRaw)} is not among the ${this.#allowed.size} allowed keys`) };
    }
    // The responder proves first; an initiator that requires a key proves only after verifying the responder.
    if (this.#role === 'responder' || !this.required) return this.#proveIfAsked();
    return { send: [] };
  }

  #proveIfAsked(): AuthStep {
    if (!this.#keyPair || !this.#peerRequires || this.#proofSent) return { send: [] };
    let signed: Uint8Array;
    try {
      signed = proofTranscript({
        signerRole: this.#role,
        signerKey: this.#ownRaw!,
        verifierKey: this.#peerRaw,
        signerNonce: this.#nonce,
        verifierNonce: this.#peerNonce!,
        channelBinding: this.#binding(),
      });
    } catch (err) {
      return { send: [], error: failed(`cannot make our LNK_AUTH proof: ${(err as Error).message}`, err) };
    }
    const signature = new Uint8Array(sign(null, signed, this.#keyPair.privateKey));
    this.#proofSent = true;
    return { send: [{ ext: this.#record(PROOF), aux: signature }] };
  }

  /** The channel binding, fetched once. Throws if it cannot be had. */
  #binding(): Uint8Array | undefined {
    if (!this.#channelBound) return undefined;
    if (this.#channelBinding === undefined) {
      const cb = this.#channelBindingSource();
      if (cb === undefined || cb.length === 0) throw new Error('the channel binding (TLS exporter) is not available');
      if (cb.length > 255) throw new Error(`the channel binding has ${cb.length} bytes; at most 255 fit the transcript`);
      this.#channelBinding = cb;
    }
    return this.#channelBinding;
  }

  #onProof(aux: Uint8Array): AuthStep {
    if (!this.#allowed) return { send: [] }; // we asked for nothing; ignore
    if (!this.#peerHello || !this.#peerRaw || !this.#peerNonce) return { send: [], error: failed('peer sent LNK_AUTH PROOF before HELLO') };
    if (this.#peerVerified) return { send: [], error: failed('peer sent a second LNK_AUTH PROOF') };
    if (aux.length !== SIGNATURE_BYTES) return { send: [], error: failed(`peer's PROOF carries ${aux.length} bytes: expected a 64-byte Ed25519 signature`) };
    let channelBinding: Uint8Array | undefined;
    try {
      channelBinding = this.#binding();
    } catch (err) {
      return { send: [], error: failed(`cannot check the peer's LNK_AUTH proof: ${(err as Error).message}`, err) };
    }
    const expected = proofTranscript({
      signerRole: otherRole(this.#role), // what we know, not what the peer claims
      signerKey: this.#peerRaw,
      verifierKey: this.#ownRaw,
      signerNonce: this.#peerNonce,
      verifierNonce: this.#nonce,
      channelBinding,
    });
    let ok = false;
    try {
      ok = verify(null, expected, publicKeyFromRaw(this.#peerRaw), aux);
    } catch {
      ok = false; // a key OpenSSL cannot load verifies nothing
    }
    if (!ok)
      return { send: [], error: failed(`peer's signature does not verify with key ${keyFingerprint(this.#peerRaw)} (as the ${otherRole(this.#role)} of this connection${this.#channelBound ? ', bound to this TLS channel' : ''})`) };
    this.#peerVerified = true;
    return this.#proveIfAsked();
  }
}

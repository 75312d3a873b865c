/**
 * Authentication with LNK_AUTH (specified by DragonFly, never implemented
 * there). Each side sends one HELLO: a fresh 32-byte challenge and, if it has
 * one, its Ed25519 public key. A side with a key answers the peer's HELLO
 * with a PROOF: its signature over both challenges and its own key, so a
 * proof can be neither replayed nor reflected. A side configured with allowed
 * keys accepts nothing but PAD and AUTH until the peer's proof verifies.
 *
 * Wire form (one-way LNK_AUTH, cmd 0x00001002, 64 bytes of extended header):
 *   ext[0..3] 'DMAU', ext[4] version 1, ext[5] phase (1 HELLO, 2 PROOF),
 *   ext[6] flags (1: sender has a key, 2: sender requires the peer's key),
 *   ext[32..63] the sender's challenge (HELLO).
 *   aux: HELLO → the sender's raw 32-byte public key (if any);
 *        PROOF → the 64-byte Ed25519 signature.
 * Signed bytes: 'dmsg-mesh/auth/v1' ‖ verifier's challenge ‖ signer's challenge ‖ signer's key.
 */
import { createHash, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { DMSG_IOQ_ERROR } from '../wire/constants.ts';
import { ProtocolError } from '../wire/errors.ts';

const MAGIC = [0x44, 0x4d, 0x41, 0x55]; // 'DMAU'
const VERSION = 1;
const HELLO = 1;
const PROOF = 2;
const F_HAS_KEY = 1;
const F_REQUIRES = 2;
const CONTEXT = new TextEncoder().encode('dmsg-mesh/auth/v1');

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

function failed(message: string): ProtocolError {
  return new ProtocolError('AUTH_FAILED', message, DMSG_IOQ_ERROR.KEYXCHGFAIL);
}

export interface AuthStep {
  /** Messages to send now (bypassing the write gate). */
  send: AuthMessage[];
  /** Set when authentication failed: close the link with it. */
  error?: ProtocolError;
}

export class AuthHandshake {
  readonly #keyPair: { privateKey: KeyObject; publicKey: KeyObject } | undefined;
  readonly #ownRaw: Uint8Array | undefined;
  readonly #allowed: Map<string, Uint8Array> | undefined;
  readonly #challenge: Uint8Array;
  #peerHello = false;
  #peerRequires = false;
  #peerChallenge: Uint8Array | undefined;
  #peerRaw: Uint8Array | undefined;
  #proofSent = false;
  #peerVerified = false;
  #peerSkipsAuth = false;

  constructor(keyPair?: { privateKey: KeyObject; publicKey: KeyObject }, allowedPeerKeys?: readonly KeyObject[], random: (n: number) => Uint8Array = randomBytes) {
    this.#keyPair = keyPair;
    this.#ownRaw = keyPair ? rawPublicKey(keyPair.publicKey) : undefined;
    this.#allowed = allowedPeerKeys ? new Map(allowedPeerKeys.map((k) => { const r = rawPublicKey(k); return [Buffer.from(r).toString('hex'), r]; })) : undefined;
    this.#challenge = random(32);
  }

  /** Authentication takes part on this link (we have a key or require one). */
  get active(): boolean { return this.#keyPair !== undefined || this.#allowed !== undefined; }
  /** The peer must prove an allowed key before anything else is accepted. */
  get required(): boolean { return this.#allowed !== undefined; }
  get peerVerified(): boolean { return this.#peerVerified; }
  /** The verified peer's raw public key. */
  get peerKey(): Uint8Array | undefined { return this.#peerVerified ? this.#peerRaw : undefined; }

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
    const ext = new Uint8Array(64);
    ext.set(MAGIC, 0);
    ext[4] = VERSION;
    ext[5] = HELLO;
    ext[6] = (this.#keyPair ? F_HAS_KEY : 0) | (this.required ? F_REQUIRES : 0);
    ext.set(this.#challenge, 32);
    return [{ ext, aux: this.#ownRaw ?? new Uint8Array(0) }];
  }

  /** A non-AUTH message came from a peer that never sent HELLO: it does not do authentication. */
  peerSentPlainMessage(): void {
    if (!this.#peerHello) this.#peerSkipsAuth = true;
  }

  /** Handle a received LNK_AUTH. */
  receive(ext: Uint8Array, aux: Uint8Array): AuthStep {
    if (ext.length < 64 || ext[0] !== MAGIC[0] || ext[1] !== MAGIC[1] || ext[2] !== MAGIC[2] || ext[3] !== MAGIC[3] || ext[4] !== VERSION)
      return { send: [], error: failed('LNK_AUTH with an unknown format: expected magic DMAU version 1') };
    const phase = ext[5];
    if (phase === HELLO) return this.#onHello(ext, aux);
    if (phase === PROOF) return this.#onProof(aux);
    return { send: [], error: failed(`LNK_AUTH with unknown phase ${phase}: expected 1 (HELLO) or 2 (PROOF)`) };
  }

  #onHello(ext: Uint8Array, aux: Uint8Array): AuthStep {
    if (this.#peerHello) return { send: [], error: failed('peer sent a second LNK_AUTH HELLO') };
    this.#peerHello = true;
    this.#peerRequires = (ext[6]! & F_REQUIRES) !== 0;
    this.#peerChallenge = ext.slice(32, 64);
    if (ext[6]! & F_HAS_KEY) {
      if (aux.length !== 32) return { send: [], error: failed(`peer's HELLO carries a ${aux.length}-byte key: expected a 32-byte Ed25519 public key`) };
      this.#peerRaw = aux.slice();
    }
    if (this.#allowed) {
      if (!this.#peerRaw) return { send: [], error: failed(`peer presented no key, but this link requires one of ${this.#allowed.size} allowed keys`) };
      if (!this.#allowed.has(Buffer.from(this.#peerRaw).toString('hex')))
        return { send: [], error: failed(`peer key ${keyFingerprint(this.#peerRaw)} is not among the ${this.#allowed.size} allowed keys`) };
    }
    const send: AuthMessage[] = [];
    if (this.#keyPair && this.#peerRequires) {
      const signed = Buffer.concat([CONTEXT, this.#peerChallenge, this.#challenge, this.#ownRaw!]);
      const signature = new Uint8Array(sign(null, signed, this.#keyPair.privateKey));
      const proof = new Uint8Array(64);
      proof.set(MAGIC, 0);
      proof[4] = VERSION;
      proof[5] = PROOF;
      proof[6] = F_HAS_KEY | (this.required ? F_REQUIRES : 0);
      send.push({ ext: proof, aux: signature });
      this.#proofSent = true;
    }
    return { send };
  }

  #onProof(aux: Uint8Array): AuthStep {
    if (!this.#allowed) return { send: [] }; // we asked for nothing; ignore
    if (!this.#peerHello || !this.#peerRaw || !this.#peerChallenge) return { send: [], error: failed('peer sent LNK_AUTH PROOF before HELLO') };
    if (this.#peerVerified) return { send: [], error: failed('peer sent a second LNK_AUTH PROOF') };
    if (aux.length !== 64) return { send: [], error: failed(`peer's PROOF carries ${aux.length} bytes: expected a 64-byte Ed25519 signature`) };
    const signed = Buffer.concat([CONTEXT, this.#challenge, this.#peerChallenge, this.#peerRaw]);
    let ok = false;
    try {
      ok = verify(null, signed, publicKeyFromRaw(this.#peerRaw), aux);
    } catch {
      ok = false;
    }
    if (!ok) return { send: [], error: failed(`peer's signature does not verify with key ${keyFingerprint(this.#peerRaw)}`) };
    this.#peerVerified = true;
    return { send: [] };
  }
}

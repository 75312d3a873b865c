/**
 * Ed25519 key files for LNK_AUTH: PEM private keys (PKCS#8) for `--key`,
 * PEM public keys (SPKI) for `--allow-key`, and `dmsg keygen` writing both.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { keyFingerprint, rawPublicKey } from '../iocom/auth.ts';
import { CommandError, UsageError } from './command.ts';

export interface NodeKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function readPem(file: string, what: string, command: string | undefined): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${what} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, command);
  }
}

/** This node's key pair from a PEM private key file. Throws UsageError (exit 2). */
export function loadKeyPair(file: string, command?: string): NodeKeyPair {
  const pem = readPem(file, '--key', command);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new UsageError(`--key ${file}: not a PEM private key (${(err as Error).message})`, command);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new UsageError(`--key ${file}: an ${privateKey.asymmetricKeyType ?? 'unknown'} key; dmsg needs Ed25519 (make one with 'dmsg keygen')`, command);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** A peer's public key from a PEM file (SPKI public key; a private key file is refused). Throws UsageError. */
export function loadPublicKey(file: string, command?: string): KeyObject {
  const pem = readPem(file, '--allow-key', command);
  // A private key would work here (its public half), but a private key handed to
  // another node is a leaked key: refuse it and point at the .pub file.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new UsageError(`--allow-key ${file}: is a private key; give the peer's public key (the .pub file dmsg keygen wrote), never a private key`, command);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new UsageError(`--allow-key ${file}: not a PEM public key (${(err as Error).message})`, command);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`--allow-key ${file}: an ${key.asymmetricKeyType ?? 'unknown'} key; dmsg needs Ed25519`, command);
  return key;
}

/** Short fingerprint of a public key, as the logs print it. */
export function fingerprint(key: KeyObject): string {
  return keyFingerprint(rawPublicKey(key));
}

export interface KeygenResult {
  privateFile: string;
  publicFile: string;
  fingerprint: string;
}

/**
 * Write a new Ed25519 key pair: `out` (private, mode 0600) and `out.pub`.
 * Refuses to overwrite either unless `force`. Throws UsageError when a file exists,
 * CommandError (WRITE_FAILED, exit 1) when a file cannot be written.
 */
export function writeKeyPair(out: string, force = false): KeygenResult {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const priv = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const pub = publicKey.export({ format: 'pem', type: 'spki' }) as string;
  const flag = force ? 'w' : 'wx';
  const publicFile = `${out}.pub`;
  // Check both first so a refusal leaves no half-written pair.
  if (!force) for (const file of [out, publicFile]) if (existsSync(file)) throw new UsageError(`${file} exists; pass --force to overwrite it`, 'keygen');
  for (const [file, text, mode] of [[out, priv, 0o600], [publicFile, pub, 0o644]] as const) {
    try {
      writeFileSync(file, text, { flag, mode });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new UsageError(`${file} exists; pass --force to overwrite it`, 'keygen');
      throw new CommandError('WRITE_FAILED', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return { privateFile: out, publicFile, fingerprint: fingerprint(publicKey) };
}

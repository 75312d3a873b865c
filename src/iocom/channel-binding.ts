/**
 * Channel binding for LNK_AUTH: a value both ends of one secure channel
 * compute alike and no other channel shares. Over TLS it is the keying
 * material exporter (RFC 5705 / RFC 8446 §7.5) with our own label, so a
 * proof signed on one TLS connection fails on any other, even when a
 * man in the middle holds a certificate both ends accept.
 */
import type { Duplex } from 'node:stream';

/** The exporter label; both ends must use the same one. */
export const TLS_EXPORTER_LABEL = 'EXPORTER-dmsg-mesh-auth';
/** Bytes taken from the exporter. */
export const TLS_EXPORTER_BYTES = 32;

interface TlsLike {
  encrypted?: unknown;
  exportKeyingMaterial?: (length: number, label: string, context?: Buffer) => Buffer;
}

/** Whether `stream` is a TLS socket (whose exporter can bind the handshake). */
export function isTlsStream(stream: Duplex): boolean {
  const s = stream as unknown as TlsLike;
  return s.encrypted === true && typeof s.exportKeyingMaterial === 'function';
}

/**
 * What the handshake on `stream` binds to: `configured` when given (a
 * Uint8Array), nothing when `configured` is null, else the TLS exporter of a
 * TLS stream, else nothing. Throws what `exportKeyingMaterial` throws (e.g.
 * before the TLS handshake has finished).
 */
export function channelBindingOf(stream: Duplex, configured: Uint8Array | null | undefined): Uint8Array | undefined {
  if (configured === null) return undefined;
  if (configured !== undefined) return configured;
  if (!isTlsStream(stream)) return undefined;
  const material = (stream as unknown as Required<TlsLike>).exportKeyingMaterial(TLS_EXPORTER_BYTES, TLS_EXPORTER_LABEL);
  return new Uint8Array(material);
}

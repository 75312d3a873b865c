/**
 * Labels: fixed 128-byte NUL-padded UTF-8 strings in the extended headers
 * (`cl_label`, `fs_label`, `peer_label`, `pfs_label`). The last byte is
 * always NUL: receivers force it (`dmsg_termstr`), so at most 127 bytes of
 * UTF-8 carry text.
 */

import { DMSG_LABEL_SIZE } from './constants.ts';
import { InvalidArgumentError } from './errors.ts';

/** Largest UTF-8 length of a label's text (the 128th byte stays NUL). */
export const LABEL_MAX_BYTES = DMSG_LABEL_SIZE - 1;

const encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is text like any other, not a marker to strip.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** UTF-8 length of a well-formed string (a surrogate pair counts 4). */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Check that `text` can travel as a label; throws `InvalidArgumentError` if not.
 * `name` is used in the message (e.g. 'peerLabel').
 */
export function validateLabel(text: string, name = 'label'): void {
  if (typeof text !== 'string') {
    throw new InvalidArgumentError(`${name} must be a string, got ${typeof text}`);
  }
  if (text.includes('\0')) {
    throw new InvalidArgumentError(`${name} must not contain NUL (U+0000), got ${JSON.stringify(text)}`);
  }
  if (LONE_SURROGATE.test(text)) {
    throw new InvalidArgumentError(`${name} is not well-formed UTF-16 (lone surrogate): ${JSON.stringify(text)}`);
  }
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 > LABEL_MAX_BYTES) {
    const bytes = utf8Length(text);
    if (bytes > LABEL_MAX_BYTES) {
      throw new InvalidArgumentError(
        `${name} must be at most ${LABEL_MAX_BYTES} bytes of UTF-8, got ${bytes} bytes`,
      );
    }
  }
}

/**
 * Write `text` as a 128-byte label at `out[offset]`, NUL-padding the rest
 * (the whole 128 bytes are written, so a reused buffer is cleaned).
 * @throws InvalidArgumentError if the text is too long, holds NUL or a lone
 *   surrogate, or `out` has fewer than 128 bytes at `offset`.
 */
export function labelToBytes(text: string, out: Uint8Array, offset: number, name = 'label'): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + DMSG_LABEL_SIZE > out.length) {
    throw new InvalidArgumentError(
      `${name} needs ${DMSG_LABEL_SIZE} bytes at offset ${offset}, buffer has ${out.length} bytes`,
    );
  }
  const end = offset + DMSG_LABEL_SIZE;
  let written = 0;
  // ASCII fast path (host names, device names): copy char codes directly.
  if (typeof text === 'string' && text.length <= LABEL_MAX_BYTES) {
    for (; written < text.length; written++) {
      const c = text.charCodeAt(written);
      if (c === 0 || c >= 0x80) break;
      out[offset + written] = c;
    }
  }
  if (typeof text !== 'string' || written !== text.length) {
    validateLabel(text, name);
    written = encoder.encodeInto(text, out.subarray(offset, end - 1)).written;
  }
  out.fill(0, offset + written, end);
}

/**
 * Read the label at `buf[offset]`: the bytes up to the first NUL, never past
 * the 127th (the 128th is taken as NUL, like `dmsg_termstr`). Invalid UTF-8
 * becomes U+FFFD. A buffer that ends early is read up to its end. Never throws.
 */
export function labelFromBytes(buf: Uint8Array, offset: number): string {
  const start = Math.max(0, Math.min(offset | 0, buf.length));
  const limit = Math.min(start + LABEL_MAX_BYTES, buf.length);
  let end = start;
  while (end < limit && buf[end] !== 0) end++;
  if (end === start) return '';
  return decoder.decode(buf.subarray(start, end));
}

/**
 * Typed codecs of the command-specific extended headers (bytes after the
 * 64-byte head). Encoders return exactly the ext bytes as sent (little-endian,
 * zero-padded); decoders take `bigEndian` for an ext still in a big-endian
 * sender's order. `Message.ext` from the frame decoder is already swapped to
 * little-endian for these commands, so decode it with `bigEndian` false.
 */

export * from './lnk-conn.ts';
export * from './lnk-span.ts';
export * from './lnk-auth.ts';
export * from './blk.ts';
export { wireExtBytes } from './ext-util.ts';
export { NIL_UUID, UUID_SIZE, isUuid, uuidFromBytes, uuidToBytes } from '../uuid.ts';
export { LABEL_MAX_BYTES, labelFromBytes, labelToBytes, validateLabel } from '../label.ts';

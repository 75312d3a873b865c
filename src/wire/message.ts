/** A decoded DMSG message: base header, extended-header bytes, aux bytes. */
import type { Header } from './header.ts';

export interface Message {
  header: Header;
  /**
   * The extended header's bytes after the first 64 (empty for 64-byte
   * headers). Known layouts are little-endian even from a big-endian sender.
   * May be a view into the chunk the decoder was given: copy it to keep it.
   */
  ext: Uint8Array;
  /** The aux data, unpadded (`header.auxBytes` long). May be a view: copy to keep. */
  aux: Uint8Array;
  /** True when the sender was big-endian (reversed magic). */
  swapped: boolean;
}

export const EMPTY: Uint8Array = new Uint8Array(0);

/** Copy a message's ext and aux out of the decoder's chunk, so it may be kept. */
export function copyMessage(msg: Message): Message {
  return { header: { ...msg.header }, ext: msg.ext.slice(), aux: msg.aux.slice(), swapped: msg.swapped };
}

export * from './constants.ts';
export * from './errors.ts';
export * from './cmd.ts';
export * from './header.ts';
export * from './message.ts';
export { crc32c, headerCrc } from './crc32c.ts';
export * from './frame-encoder.ts';
export * from './frame-decoder.ts';
export { swapExtToLE, isKnownExt } from './ext-swap.ts';

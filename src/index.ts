/**
 * dmsg-mesh: DragonFly BSD's DMSG (iocom) protocol for Node.js.
 *
 * Layers, bottom up: wire (bytes), iocom (one link, transactions),
 * transport (streams), span (the mesh router).
 */
export * from './wire/index.ts';
export * from './wire/ext/index.ts';
export * from './iocom/index.ts';
export * from './transport/index.ts';
export * from './span/index.ts';

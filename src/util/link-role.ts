/**
 * Which end of a connection a stream is: the side that dialled (`initiator`)
 * or the side that accepted (`responder`). LNK_AUTH binds the signer's role
 * into every proof, so a proof made on one side of a connection can never be
 * passed off as coming from the other side (see src/iocom/auth.ts). The
 * transports mark the streams they make (connect → initiator, accept →
 * responder, memoryPair → [initiator, responder]); an Iocom reads the mark
 * unless its `role` option says otherwise.
 */

export type LinkRole = 'initiator' | 'responder';

const roles = new WeakMap<object, LinkRole>();

/** Record which end of its connection `stream` is. */
export function markLinkRole(stream: object, role: LinkRole): void {
  roles.set(stream, role);
}

/** The role a transport recorded for `stream`, if any. */
export function linkRoleOf(stream: object): LinkRole | undefined {
  return roles.get(stream);
}

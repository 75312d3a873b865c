/**
 * What went wrong on a client command's link, in one line: a pure function
 * from what was observed (the dial error, or how the link ended, and the
 * first bytes the peer sent) to a CommandError whose code says which of a few
 * things failed. Exit status 1 for all of them.
 */
import { DMSG, DMSG_HDR_MAGIC, DMSGF } from '../wire/constants.ts';
import { DmsgError } from '../wire/errors.ts';
import { CommandError } from './command.ts';

export const LINK_FAILURE_CODES = [
  /** Nothing listens there (TCP RST, or no Unix socket at that path). */
  'CONNECTION_REFUSED',
  /** TLS could not be set up or was torn down: certificate, CA, client certificate, plain TCP on a TLS port or back. */
  'TLS_HANDSHAKE',
  /** LNK_AUTH: the peer wants a key we do not have, or refuses ours, or we refuse its key. */
  'AUTH_REFUSED',
  /** The peer answered, but not in DMSG (bad magic, CRC, framing), or hung up without a word. */
  'NOT_DMSG',
  /** No connection, or no DMSG answer, within --timeout-ms. */
  'TIMEOUT',
  /** The link worked, then went away before the command finished. */
  'LINK_LOST',
  /** Any other failure to connect (host not found, network unreachable ...). */
  'CONNECT_FAILED',
] as const;
export type LinkFailureCode = (typeof LINK_FAILURE_CODES)[number];

/** A client command's link failed; `code` is one of LINK_FAILURE_CODES. */
export class LinkFailure extends CommandError {
  declare readonly code: LinkFailureCode;
  constructor(code: LinkFailureCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** What the command knew when the link failed. */
export interface LinkContext {
  /** The address as the user wrote it. */
  target: string;
  /** Whether the dial used TLS. */
  tls: boolean;
  /** Whether we had a key to prove (--key). */
  haveKey: boolean;
  /** --timeout-ms. */
  timeoutMs: number;
  /** The first bytes the peer sent (up to 64), if any. */
  firstBytes?: Uint8Array;
  /** True once the peer answered in DMSG (our first LNK_PING came back). */
  established: boolean;
}

function codeOf(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** The error and its causes, outermost first. */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && out.length < 8; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|CERT_|ERR_OSSL_)/;

/** OpenSSL's "...:SSL routines:func:reason:file:line:" → "reason". */
function tlsReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const m = /SSL routines:[^:]*:([^:]+):/.exec(msg);
  return (m ? m[1]! : msg).trim();
}

/** The base command of a DMSG header in `bytes`, if they start with one (either byte order). */
export function firstCommand(bytes: Uint8Array | undefined): number | undefined {
  if (!bytes || bytes.length < 0x24) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint16(0, true);
  if (magic === DMSG_HDR_MAGIC) return v.getUint32(0x20, true) & DMSGF.BASECMDMASK;
  if (magic === ((DMSG_HDR_MAGIC >> 8) | ((DMSG_HDR_MAGIC & 0xff) << 8))) return v.getUint32(0x20, false) & DMSGF.BASECMDMASK;
  return undefined;
}

/** True when the peer's first bytes cannot begin a DMSG header (neither byte order's magic). */
export function sentForeignBytes(bytes: Uint8Array | undefined): boolean {
  if (!bytes || bytes.length < 2) return false;
  const magic = bytes[0]! | (bytes[1]! << 8);
  return magic !== DMSG_HDR_MAGIC && magic !== ((DMSG_HDR_MAGIC >> 8) | ((DMSG_HDR_MAGIC & 0xff) << 8));
}

/** The peer's first bytes as a short quote when they are text (e.g. an HTTP status line). */
function quoteText(bytes: Uint8Array | undefined): string {
  if (!bytes || bytes.length === 0) return '';
  const line = bytes.subarray(0, 40);
  if (!line.every((b) => b === 0x0d || b === 0x0a || (b >= 0x20 && b < 0x7f))) return '';
  return `; it sent ${JSON.stringify(new TextDecoder().decode(line).split(/\r?\n/)[0])}`;
}

/** A dial that failed (TransportError from connectTcp/connectTls/connectUnix). */
export function dialFailure(err: unknown, ctx: LinkContext): LinkFailure {
  const where = ctx.target;
  const causes = chain(err);
  const codes = causes.map(codeOf);
  if (codes.includes('ECONNREFUSED')) return new LinkFailure('CONNECTION_REFUSED', `${where}: connection refused (nothing listens there)`, { cause: err });
  if (codes.includes('ENOENT')) return new LinkFailure('CONNECTION_REFUSED', `${where}: no socket at that path`, { cause: err });
  if (codes[0] === 'TIMEOUT' || codes.includes('ETIMEDOUT')) return new LinkFailure('TIMEOUT', `${where}: no connection within ${ctx.timeoutMs} ms`, { cause: err });
  const tlsCause = causes.find((c) => TLS_CODES.test(codeOf(c) ?? ''));
  if (tlsCause || (ctx.tls && codes.includes('ECONNRESET'))) {
    const why = tlsCause ? tlsReason(tlsCause) : 'the peer reset the connection';
    const hint = /wrong version number|packet length too long|unknown protocol/.test(why) ? ' (the peer does not speak TLS: try tcp:HOST:PORT)' : /self.signed|unable to (get|verify)|certificate/i.test(why) ? ' (give the CA with --tls-ca)' : '';
    return new LinkFailure('TLS_HANDSHAKE', `${where}: TLS handshake failed: ${why}${hint}`, { cause: err });
  }
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) return new LinkFailure('CONNECT_FAILED', `${where}: host not found`, { cause: err });
  const last = causes.at(-1);
  return new LinkFailure('CONNECT_FAILED', `${where}: cannot connect: ${last instanceof Error ? last.message : String(last)}`, { cause: err });
}

/**
 * How an established (or establishing) link ended. `error` is the link's
 * close error (LinkCloseReason's `error`), or undefined when the peer simply
 * closed the connection.
 */
export function linkEndFailure(error: Error | undefined, ctx: LinkContext): LinkFailure {
  const where = ctx.target;
  const causes = chain(error);
  const code = codeOf(error);
  if (code === 'AUTH_FAILED' || code === 'AUTH_REQUIRED') return new LinkFailure('AUTH_REFUSED', `${where}: authentication refused: ${stripName(error!.message)}`, { cause: error });
  const tlsCause = causes.find((c) => TLS_CODES.test(codeOf(c) ?? ''));
  if (tlsCause) {
    const why = tlsReason(tlsCause);
    const hint = /certificate required/.test(why) ? ' (the relay wants a client certificate: give --tls-cert and --tls-key)' : '';
    return new LinkFailure('TLS_HANDSHAKE', `${where}: TLS handshake failed: ${why}${hint}`, { cause: error });
  }
  if (code === 'KEEPALIVE_TIMEOUT') return new LinkFailure('TIMEOUT', `${where}: ${stripName(error!.message)}`, { cause: error });
  if (ctx.established) {
    const why = error ? stripName(error.message) : 'the relay closed the connection';
    return new LinkFailure('LINK_LOST', `${where}: the link was lost: ${why}`, { cause: error });
  }
  if (error instanceof DmsgError && code !== 'STREAM_ERROR') {
    // The decoder refused the peer's bytes: BAD_MAGIC, BAD_HDR_CRC, TRUNCATED ...
    return new LinkFailure('NOT_DMSG', `${where}: the peer is not speaking DMSG (${code}: ${stripName(error.message)})${quoteText(ctx.firstBytes)}`, { cause: error });
  }
  if (firstCommand(ctx.firstBytes) === DMSG.LNK_AUTH) {
    return ctx.haveKey
      ? new LinkFailure('AUTH_REFUSED', `${where}: authentication refused: the relay closed the link after our LNK_AUTH proof (our key is not among its allowed keys)`, { cause: error })
      : new LinkFailure('AUTH_REFUSED', `${where}: authentication refused: the relay requires LNK_AUTH; give --key FILE (a key it allows)`, { cause: error });
  }
  const hint = ctx.tls ? '' : ' (a TLS port? try tls:HOST:PORT)';
  const why = error ? stripName(error.message) : 'the peer closed the connection without a DMSG answer';
  // It sent bytes that cannot start a DMSG header, then reset or closed the
  // connection before a whole header (an HTTP server's 400 and close, which
  // arrives as ECONNRESET when our unread bytes are still in its buffer).
  if (sentForeignBytes(ctx.firstBytes)) return new LinkFailure('NOT_DMSG', `${where}: the peer is not speaking DMSG (${why})${quoteText(ctx.firstBytes)}${hint}`, { cause: error });
  return new LinkFailure('NOT_DMSG', `${where}: ${why}${quoteText(ctx.firstBytes)}${hint}`, { cause: error });
}

/** The peer connected but never answered our LNK_PING. */
export function silentFailure(ctx: LinkContext): LinkFailure {
  const got = ctx.firstBytes && ctx.firstBytes.length > 0 ? `it sent ${ctx.firstBytes.length}+ bytes but no DMSG answer${quoteText(ctx.firstBytes)}` : 'it sent nothing';
  return new LinkFailure('TIMEOUT', `${ctx.target}: connected, but no DMSG answer within ${ctx.timeoutMs} ms (${got}; is it a DMSG peer?${ctx.tls ? '' : ' a TLS port?'})`);
}

/** Iocom messages start with the link's name ("dmsg ping HOST: ..."); the CLI's line already says where. */
function stripName(message: string): string {
  return message.replace(/^dmsg \w+ \S+: /, '').replace(/^stream error: /, '').split('\n')[0]!.trim();
}

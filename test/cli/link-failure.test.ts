/** The pure classification behind the client commands' one-line failures. */
import { describe, expect, it } from 'vitest';
import { dialFailure, firstCommand, linkEndFailure, silentFailure, type LinkContext } from '../../src/cli/link-failure.ts';
import { LinkError } from '../../src/iocom/errors.ts';
import { TransportError } from '../../src/transport/errors.ts';
import { DMSG, DMSGF } from '../../src/wire/constants.ts';
import { ProtocolError } from '../../src/wire/errors.ts';
import { concatBytes, encodeMessage } from '../../src/wire/frame-encoder.ts';

const ctx = (over: Partial<LinkContext> = {}): LinkContext => ({ target: 'h:1', tls: false, haveKey: false, timeoutMs: 500, established: false, ...over });
const os = (code: string, message = code): Error => Object.assign(new Error(message), { code });
const dial = (cause: Error, code: 'CONNECT_FAILED' | 'TIMEOUT' = 'CONNECT_FAILED'): TransportError => new TransportError(code, `connect failed: ${cause.message}`, { cause });
const authHeader = concatBytes(encodeMessage({ header: { cmd: (DMSG.LNK_AUTH | DMSGF.CREATE) >>> 0, msgid: 1n } })).subarray(0, 64);

describe('dialFailure', () => {
  it.each([
    [dial(os('ECONNREFUSED')), ctx(), 'CONNECTION_REFUSED', /connection refused/],
    [dial(os('ENOENT')), ctx(), 'CONNECTION_REFUSED', /no socket at that path/],
    [new TransportError('TIMEOUT', 'took too long'), ctx(), 'TIMEOUT', /no connection within 500 ms/],
    [dial(os('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate')), ctx({ tls: true }), 'TLS_HANDSHAKE', /self-signed certificate \(give the CA with --tls-ca\)/],
    [dial(os('ERR_SSL_WRONG_VERSION_NUMBER', 'X:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl.c:350:')), ctx({ tls: true }), 'TLS_HANDSHAKE', /wrong version number \(the peer does not speak TLS/],
    [dial(os('ENOTFOUND')), ctx(), 'CONNECT_FAILED', /host not found/],
    [dial(os('EHOSTUNREACH', 'no route')), ctx(), 'CONNECT_FAILED', /cannot connect: no route/],
  ] as const)('%s -> %s', (err, c, code, re) => {
    const f = dialFailure(err, c);
    expect(f.code).toBe(code);
    expect(f.message).toMatch(re);
    expect(f.message.startsWith('h:1: ')).toBe(true);
    expect(f.message).not.toContain('\n');
  });
});

describe('linkEndFailure', () => {
  it('LNK_AUTH refusals are AUTH_REFUSED', () => {
    expect(linkEndFailure(new ProtocolError('AUTH_FAILED', 'dmsg ping h:1: peer key ab is not among the 1 allowed keys', 0), ctx()).message).toBe('h:1: authentication refused: peer key ab is not among the 1 allowed keys');
    // The peer sent LNK_AUTH, then hung up: it wants a key we lack, or refused ours.
    expect(linkEndFailure(undefined, ctx({ firstBytes: authHeader })).message).toMatch(/requires LNK_AUTH; give --key FILE/);
    expect(linkEndFailure(undefined, ctx({ firstBytes: authHeader, haveKey: true })).message).toMatch(/our key is not among its allowed keys/);
  });

  it('bytes that are not DMSG are NOT_DMSG, quoting text', () => {
    const f = linkEndFailure(new ProtocolError('BAD_MAGIC', 'bad magic 0x5454', 0), ctx({ firstBytes: new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n') }));
    expect(f.code).toBe('NOT_DMSG');
    expect(f.message).toBe('h:1: the peer is not speaking DMSG (BAD_MAGIC: bad magic 0x5454); it sent "HTTP/1.1 400 Bad Request"');
    // An HTTP server that answers 400 and closes while our bytes are unread in its buffer: we see ECONNRESET after its text.
    const reset = linkEndFailure(new LinkError('STREAM_ERROR', 'dmsg call h:1: stream error: read ECONNRESET', { cause: os('ECONNRESET', 'read ECONNRESET') }), ctx({ firstBytes: new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n') }));
    expect(reset.code).toBe('NOT_DMSG');
    expect(reset.message).toBe('h:1: the peer is not speaking DMSG (read ECONNRESET); it sent "HTTP/1.1 400 Bad Request" (a TLS port? try tls:HOST:PORT)');
    // A reset after the start of a DMSG header is not called foreign.
    expect(linkEndFailure(new LinkError('STREAM_ERROR', 'dmsg call h:1: stream error: read ECONNRESET'), ctx({ firstBytes: authHeader.subarray(0, 8) })).message).toBe('h:1: read ECONNRESET (a TLS port? try tls:HOST:PORT)');
    const closed = linkEndFailure(undefined, ctx());
    expect(closed.code).toBe('NOT_DMSG');
    expect(closed.message).toMatch(/closed the connection without a DMSG answer \(a TLS port\? try tls:HOST:PORT\)/);
  });

  it('a TLS alert on the stream is TLS_HANDSHAKE; keepalive is TIMEOUT; after the first answer, LINK_LOST', () => {
    const alert = new LinkError('STREAM_ERROR', 'x: stream error: tls alert', { cause: os('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'E:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../rec.c:1601:') });
    expect(linkEndFailure(alert, ctx({ tls: true })).message).toMatch(/TLS handshake failed: tlsv13 alert certificate required \(the relay wants a client certificate/);
    expect(linkEndFailure(new LinkError('KEEPALIVE_TIMEOUT', 'nothing received for 10000 ms'), ctx({ established: true })).code).toBe('TIMEOUT');
    const lost = linkEndFailure(undefined, ctx({ established: true }));
    expect(lost.code).toBe('LINK_LOST');
    expect(lost.message).toBe('h:1: the link was lost: the relay closed the connection');
  });

  it('silence is TIMEOUT; firstCommand reads either byte order and nothing else', () => {
    expect(silentFailure(ctx()).message).toBe('h:1: connected, but no DMSG answer within 500 ms (it sent nothing; is it a DMSG peer? a TLS port?)');
    expect(firstCommand(authHeader)).toBe(DMSG.LNK_AUTH);
    const swapped = new Uint8Array(64);
    new DataView(swapped.buffer).setUint16(0, 0x4832, false);
    new DataView(swapped.buffer).setUint32(0x20, DMSG.LNK_PING, false);
    expect(firstCommand(swapped)).toBe(DMSG.LNK_PING);
    expect(firstCommand(new TextEncoder().encode('HTTP/1.1 400 Bad Request, and more bytes here'))).toBeUndefined();
    expect(firstCommand(undefined)).toBeUndefined();
  });
});

/**
 * Shared dial logic of tcp, unix and tls: one promise that settles exactly
 * once with the ready socket or a typed error, and leaves no listener, timer
 * or half-open socket behind on failure.
 */
import type net from 'node:net';
import { TransportError, abortError } from './errors.ts';
import type { SocketOptions } from './options.ts';
import { tuneSocket } from './socket-server.ts';
import { markLinkRole } from '../util/link-role.ts';

export interface DialSpec<S extends net.Socket> {
  /** Creates the socket and starts connecting. Called only if not yet aborted. */
  readonly create: () => S;
  /** 'connect' for net sockets, 'secureConnect' for tls sockets. */
  readonly readyEvent: 'connect' | 'secureConnect';
  readonly what: string;
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly socket: Readonly<Required<SocketOptions>>;
}

export function dial<S extends net.Socket>(spec: DialSpec<S>): Promise<S> {
  const { signal, what } = spec;
  return new Promise<S>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(`connect to ${what}`, signal));
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    let sock: S;
    try {
      sock = spec.create();
    } catch (err) {
      reject(new TransportError('CONNECT_FAILED', `connect to ${what} failed: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      sock.off('error', onError);
      sock.off(spec.readyEvent, onReady);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: TransportError): void => {
      cleanup();
      // Swallow the late 'error' a destroyed half-made socket may still emit.
      sock.on('error', () => {});
      sock.destroy();
      reject(err);
    };
    const onError = (err: Error): void =>
      fail(new TransportError('CONNECT_FAILED', `connect to ${what} failed: ${err.message}`, { cause: err }));
    const onAbort = (): void => fail(abortError(`connect to ${what}`, signal!));
    const onReady = (): void => {
      cleanup();
      tuneSocket(sock, spec.socket);
      markLinkRole(sock, 'initiator'); // we dialled: LNK_AUTH binds this role
      resolve(sock);
    };
    sock.once('error', onError);
    sock.once(spec.readyEvent, onReady);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (spec.timeoutMs > 0) {
      timer = setTimeout(
        () => fail(new TransportError('TIMEOUT', `connect to ${what} timed out after ${spec.timeoutMs} ms`)),
        spec.timeoutMs,
      );
    }
  });
}

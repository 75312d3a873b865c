/**
 * A service program on a test host: a Router in the test process linked to
 * the host's relay over its Unix socket (as a program running on that host
 * would be), serving one service whose instance is the host's name. Every
 * call is answered with `HOST:` followed by the call's text, so a client
 * knows which host answered. stop() withdraws the service and ends the
 * program (its link to the relay closes).
 */
import { DMSGF } from '../../src/wire/constants.ts';
import { Router } from '../../src/span/router.ts';
import type { Service } from '../../src/span/router-types.ts';
import type { HostMesh } from './host-mesh.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The answer a program on `host` gives to a call carrying `text`. */
export const answerOf = (host: string, text: string): string => `${host}:${text}`;

/** Split an answer into the answering host and the call's text, or null if it is not one. */
export function parseAnswer(answer: string): { host: string; text: string } | null {
  const i = answer.indexOf(':');
  return i > 0 ? { host: answer.slice(0, i), text: answer.slice(i + 1) } : null;
}

export class ServiceProgram {
  readonly host: string;
  readonly service: string;
  /** Calls answered. */
  answered = 0;
  readonly #router: Router;
  #svc: Service | null = null;

  private constructor(host: string, service: string) {
    this.host = host;
    this.service = service;
    this.#router = new Router({ name: `${service}-on-${host}` });
  }

  /** Start the program on `host`: link to its relay, then serve. */
  static async start(mesh: HostMesh, host: string, service: string): Promise<ServiceProgram> {
    const p = new ServiceProgram(host, service);
    await mesh.attachRouter(host, p.#router);
    p.#svc = p.#router.serve(service, (tx) => {
      tx.rx$.subscribe({
        next: (m) => {
          if (m.aux.length === 0 || !tx.canSend) return;
          p.answered++;
          tx.send(m.header.cmd & DMSGF.BASECMDMASK, { aux: enc.encode(answerOf(host, dec.decode(m.aux))), delete: (m.header.cmd & DMSGF.DELETE) !== 0 });
        },
        complete: () => { if (tx.canSend) tx.close(); },
        error: () => undefined,
      });
    }, { instance: host });
    return p;
  }

  /** Withdraw the service and end the program. */
  async stop(): Promise<void> {
    this.#svc?.close();
    this.#svc = null;
    await this.#router.close();
  }
}

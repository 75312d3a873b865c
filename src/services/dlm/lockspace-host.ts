/** The lockspace's view of its node (`LockspaceHost`), implemented by `Dlm`. */
import type { Clock } from '../../util/clock.ts';
import type { ResourceHash } from './hash.ts';
import type { Scheduler } from './scheduler.ts';
import type { DlmMessageEvent } from './transport.ts';

/** What a lockspace needs from its node. */
export interface LockspaceHost {
  readonly nodeid: number;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly hash: ResourceHash;
  readonly tossMs: number;
  readonly maxSavedMessages: number;
  send(to: number, bytes: Uint8Array): void;
  /** `send()` copies or consumes the bytes before it returns (`DlmEndpoint.copiesOnSend`): the lockspace encodes into one reused buffer. */
  readonly copiesOnSend: boolean;
  observe: ((event: DlmMessageEvent) => void) | null;
  callbackError(err: unknown): void;
}

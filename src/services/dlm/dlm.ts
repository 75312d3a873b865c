/**
 * A DLM node: its lockspaces, demultiplexing received messages to them by
 * the header's lockspace id, and the host services they share (clock,
 * scheduler, hash, observer). `join()` gives the TypeScript API;
 * `newLockspace()` the low-level one.
 */
import { DlmLockspace } from './api.ts';
import { DlmError } from './errors.ts';
import { jhash } from './hash.ts';
import { Lockspace, type LockspaceHost } from './lockspace.ts';
import { DLM_HEADER_LEN } from './message.ts';
import { notReadyReply } from './recovery/rcom-receive.ts';
import { resolveDlmOptions, resolveLvblen, resolveMembers, validateLockspaceName, type DlmOptions, type LockspaceOptions, type ResolvedDlmOptions } from './options.ts';
import { MicrotaskScheduler } from './scheduler.ts';
import type { DlmEndpoint, DlmMessageEvent } from './transport.ts';

/** The 32-bit global id of a lockspace name (carried in every header). */
export function lockspaceGlobalId(name: string): number {
  return jhash(new TextEncoder().encode(name), 0);
}

export class Dlm {
  readonly nodeid: number;
  readonly options: ResolvedDlmOptions;
  readonly #host: Omit<LockspaceHost, 'send' | 'copiesOnSend'>;
  readonly #endpoint: DlmEndpoint | null;
  readonly #byId = new Map<number, Lockspace>();
  readonly #byName = new Map<string, Lockspace>();
  /** The lockspace the last message went to, by its id (a node usually has one): no map probe per message. Cleared when it is forgotten. */
  #lastLs: Lockspace | null = null;
  /** Messages for no lockspace here, or unreadable headers. */
  unroutable = 0;
  callbackErrors = 0;

  constructor(options: DlmOptions & { endpoint?: DlmEndpoint } = {}) {
    const { endpoint, ...rest } = options;
    this.options = resolveDlmOptions({ ...rest, nodeid: endpoint?.nodeid ?? rest.nodeid });
    this.nodeid = this.options.nodeid;
    this.#endpoint = endpoint ?? null;
    const onError = (err: unknown): void => {
      this.callbackErrors++;
      this.options.onCallbackError?.(err);
    };
    const observer = this.options.observer;
    this.#host = {
      nodeid: this.nodeid,
      clock: this.options.clock,
      scheduler: this.options.scheduler ?? new MicrotaskScheduler(onError),
      hash: this.options.hash,
      tossMs: this.options.tossMs,
      maxSavedMessages: this.options.maxSavedMessages,
      observe: observer ? (e: DlmMessageEvent) => observer(e) : null,
      callbackError: onError,
    };
    const scheduler = this.#host.scheduler;
    if (endpoint?.asyncReceive === true && scheduler instanceof MicrotaskScheduler) {
      // Callbacks a message completes run as its delivery ends (scheduler.ts): never inside a DLM call,
      // since this endpoint delivers from the event loop only.
      endpoint.setReceiver((from, bytes) => {
        scheduler.beginReceive();
        try {
          this.receive(from, bytes);
        } finally {
          scheduler.endReceive();
        }
      });
    } else endpoint?.setReceiver((from, bytes) => this.receive(from, bytes));
  }

  /**
   * Create (or open) a lockspace, low-level (`dlm_new_lockspace`). Opening
   * an existing one with another lvblen fails with EPROTO.
   */
  newLockspace(name: string, options: LockspaceOptions = {}): Lockspace {
    validateLockspaceName(name);
    const lvblen = resolveLvblen(options.lvblen);
    const existing = this.#byName.get(name);
    if (existing) {
      if (existing.lvblen !== lvblen) throw new DlmError('EPROTO', `lockspace "${name}" exists with lvblen ${existing.lvblen}, asked ${lvblen}`);
      if (options.nodir !== undefined && existing.nodir !== options.nodir) throw new DlmError('EPROTO', `lockspace "${name}" exists with nodir ${existing.nodir}, asked ${options.nodir}`);
      if (options.ops) existing.addRecoveryOps(options.ops);
      return existing;
    }
    const members = resolveMembers(options.members, this.nodeid);
    if (members.length > 1 && !this.#endpoint) throw new DlmError('EINVAL', `lockspace "${name}" has ${members.length} members, so the node must have an endpoint; got none`);
    const id = lockspaceGlobalId(name);
    if (this.#byId.has(id)) throw new DlmError('EEXIST', `lockspace id 0x${id.toString(16)} of "${name}" collides with another lockspace`);
    const endpoint = this.#endpoint;
    const host: LockspaceHost = {
      ...this.#host,
      send: (to, bytes) => endpoint?.send(to, bytes),
      copiesOnSend: endpoint?.copiesOnSend === true,
    };
    if (options.nodir !== undefined && typeof options.nodir !== 'boolean') throw new DlmError('EINVAL', `nodir must be a boolean, got ${String(options.nodir)}`);
    const ls = new Lockspace(host, name, id, lvblen, members, options.nodir ?? false);
    if (options.ops) ls.addRecoveryOps(options.ops);
    this.#byId.set(id, ls);
    this.#byName.set(name, ls);
    return ls;
  }

  lockspace(name: string): Lockspace | undefined {
    return this.#byName.get(name);
  }

  get lockspaces(): Lockspace[] {
    return [...this.#byName.values()];
  }

  /** Join a lockspace with the TypeScript API. */
  async join(name: string, options: LockspaceOptions = {}): Promise<DlmLockspace> {
    const ls = this.newLockspace(name, options);
    return new DlmLockspace(ls, () => this.#forget(ls));
  }

  /** Release a lockspace low-level (`dlm_release_lockspace`): 0 or a negative errno. */
  releaseLockspace(name: string, force: 0 | 1 | 2 | 3 = 0): number {
    const ls = this.#byName.get(name);
    if (!ls) return -22;
    const rv = ls.release(force);
    if (rv === 0) this.#forget(ls);
    return rv;
  }

  #forget(ls: Lockspace): void {
    if (this.#byName.get(ls.name) === ls) {
      this.#byName.delete(ls.name);
      this.#byId.delete(ls.globalId);
    }
    if (this.#lastLs === ls) this.#lastLs = null;
  }

  /** Bytes from node `from`; routed by lockspace id. Never throws. */
  receive(from: number, bytes: Uint8Array): void {
    // Only the lockspace id is read here; the lockspace checks the whole message.
    if (!(bytes instanceof Uint8Array) || bytes.length < DLM_HEADER_LEN) {
      this.unroutable++;
      return;
    }
    const id = (bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24)) >>> 0;
    const last = this.#lastLs;
    const ls = last !== null && last.globalId === id ? last : this.#byId.get(id);
    if (ls !== undefined) this.#lastLs = ls;
    if (!ls) {
      this.unroutable++;
      // §3.8: a STATUS for a lockspace not here is answered "not ready" (-ESRCH).
      const reply = notReadyReply(this.nodeid, from, bytes);
      if (reply) this.#endpoint?.send(from, reply);
      return;
    }
    ls.receive(from, bytes);
  }

  /** Release every lockspace (force 2) and stop receiving. */
  close(): void {
    for (const ls of this.#byName.values()) ls.release(2);
    this.#byName.clear();
    this.#byId.clear();
    this.#lastLs = null;
    this.#endpoint?.setReceiver(null);
  }
}

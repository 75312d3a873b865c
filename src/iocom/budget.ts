/**
 * Daemon-wide limits shared by every link of a process (issue 7, item 4).
 * Per-link limits (maxQueuedBytes, maxTransactions, maxAuxBytes) bound what
 * one peer can make us hold, but 600 peers each holding "only" their share
 * still take gigabytes. A Budget is given to every Iocom of a daemon (through
 * IocomOptions.budget, which a Router passes on to the iocoms it makes); each
 * link keeps an account of what it holds now:
 *
 * - bytes buffered for messages not yet delivered (the decoder's partial
 *   message, plus messages held while reading is paused);
 * - bytes queued for writing (our queue and the stream's buffer: span relays,
 *   replies, echoes — everything sent on the link);
 * - open transactions (both directions);
 * - the connection itself, and whether it has authenticated yet.
 *
 * Byte and transaction budgets: when a total passes its maximum, the link
 * holding the most of it is shed (closed with LinkError LIMIT and a log
 * line), then the next largest, until the total is back under. Shedding runs
 * in a microtask after the update that passed the limit, never inside another
 * link's send or receive (a link is only ever torn down from its own stack or
 * from a clean one); the overshoot is bounded by one tick's work, which the
 * per-link limits bound in turn. Connection budgets refuse: a link past
 * maxConnections, or an unauthenticated link past maxUnauthenticated, is shed
 * at once, and the links already there are left alone.
 */
import { resolveBudgetOptions, type BudgetOptions, type ResolvedBudgetOptions } from './options.ts';

/** The budgets that shed the largest holder. */
export type BudgetResource = 'bufferedBytes' | 'queuedBytes' | 'transactions';
/** Everything a budget can refuse or shed for. */
export type BudgetLimit = BudgetResource | 'connections' | 'unauthenticated';

export interface BudgetStats {
  /** Links joined now. */
  connections: number;
  /** Links that still owe authentication. */
  unauthenticated: number;
  bufferedBytes: number;
  queuedBytes: number;
  transactions: number;
  /** Links shed or refused since the budget was made, per limit. */
  shed: Record<BudgetLimit, number>;
  /** The limits in force. */
  limits: ResolvedBudgetOptions;
}

/** What a link tells the budget when it joins. */
export interface BudgetMember {
  readonly name: string;
  /** The peer must authenticate before anything but PAD and AUTH is accepted. */
  readonly authRequired: boolean;
  /** Close the link for this reason (LinkError LIMIT, logged by the link). */
  shed(why: string): void;
}

const RESOURCES: readonly BudgetResource[] = ['bufferedBytes', 'queuedBytes', 'transactions'];

/** One link's holdings in a Budget. Made by `Budget.join()`. */
export class BudgetAccount {
  readonly member: BudgetMember;
  /** Why the budget refused this link when it joined (it must be shed at once), else undefined. */
  readonly refused: string | undefined;
  bufferedBytes = 0;
  queuedBytes = 0;
  transactions = 0;
  #authenticated: boolean;
  #left = false;
  readonly #budget: Budget;

  /** @internal */
  constructor(budget: Budget, member: BudgetMember, refused: string | undefined) {
    this.#budget = budget;
    this.member = member;
    this.refused = refused;
    this.#authenticated = !member.authRequired;
  }

  get authenticated(): boolean { return this.#authenticated; }
  get left(): boolean { return this.#left; }

  setBufferedBytes(n: number): void {
    if (this.#left || n === this.bufferedBytes) return;
    this.#budget._change('bufferedBytes', n - this.bufferedBytes);
    this.bufferedBytes = n;
  }

  setQueuedBytes(n: number): void {
    if (this.#left || n === this.queuedBytes) return;
    this.#budget._change('queuedBytes', n - this.queuedBytes);
    this.queuedBytes = n;
  }

  setTransactions(n: number): void {
    if (this.#left || n === this.transactions) return;
    this.#budget._change('transactions', n - this.transactions);
    this.transactions = n;
  }

  /** The peer proved its key: the link no longer counts as unauthenticated. */
  setAuthenticated(): void {
    if (this.#left || this.#authenticated) return;
    this.#authenticated = true;
    this.#budget._authenticated();
  }

  /** The link ended: everything it held is given back. Idempotent. */
  leave(): void {
    if (this.#left) return;
    this.setBufferedBytes(0);
    this.setQueuedBytes(0);
    this.setTransactions(0);
    this.#left = true;
    this.#budget._leave(this);
  }
}

export class Budget {
  readonly limits: ResolvedBudgetOptions;
  readonly #accounts = new Set<BudgetAccount>();
  #unauthenticated = 0;
  readonly #totals: Record<BudgetResource, number> = { bufferedBytes: 0, queuedBytes: 0, transactions: 0 };
  readonly #shed: Record<BudgetLimit, number> = { bufferedBytes: 0, queuedBytes: 0, transactions: 0, connections: 0, unauthenticated: 0 };
  #checkScheduled = false;
  readonly #check = (): void => {
    this.#checkScheduled = false;
    this.#enforce();
  };

  constructor(options?: BudgetOptions) {
    this.limits = resolveBudgetOptions(options);
  }

  /**
   * A link starts: its account, which it updates as it goes and leaves when
   * it ends. Past maxConnections (or maxUnauthenticated, for a link that
   * requires authentication) the account comes back `refused` and the link
   * must shed itself at once; it holds nothing and counts for nothing.
   */
  join(member: BudgetMember): BudgetAccount {
    let refused: string | undefined;
    if (this.#accounts.size >= this.limits.maxConnections) {
      refused = `daemon-wide budget: ${this.#accounts.size} connections open; maxConnections is ${this.limits.maxConnections}`;
      this.#shed.connections++;
    } else if (member.authRequired && this.#unauthenticated >= this.limits.maxUnauthenticated) {
      refused = `daemon-wide budget: ${this.#unauthenticated} connections still authenticating; maxUnauthenticated is ${this.limits.maxUnauthenticated}`;
      this.#shed.unauthenticated++;
    }
    const account = new BudgetAccount(this, member, refused);
    if (refused !== undefined) {
      account.leave();
      return account;
    }
    this.#accounts.add(account);
    if (member.authRequired) this.#unauthenticated++;
    return account;
  }

  stats(): BudgetStats {
    return {
      connections: this.#accounts.size,
      unauthenticated: this.#unauthenticated,
      ...this.#totals,
      shed: { ...this.#shed },
      limits: this.limits,
    };
  }

  /** @internal */
  _change(resource: BudgetResource, delta: number): void {
    const total = (this.#totals[resource] += delta);
    if (delta > 0 && total > this.#max(resource) && !this.#checkScheduled) {
      this.#checkScheduled = true;
      queueMicrotask(this.#check);
    }
  }

  /** @internal */
  _authenticated(): void {
    this.#unauthenticated--;
  }

  /** @internal */
  _leave(account: BudgetAccount): void {
    if (!this.#accounts.delete(account)) return;
    if (!account.authenticated) this.#unauthenticated--;
  }

  #max(resource: BudgetResource): number {
    switch (resource) {
      case 'bufferedBytes': return this.limits.maxBufferedBytes;
      case 'queuedBytes': return this.limits.maxQueuedBytes;
      case 'transactions': return this.limits.maxTransactions;
    }
  }

  /** Shed the largest holder of every budget that is over, until it is not. */
  #enforce(): void {
    for (const resource of RESOURCES) {
      const max = this.#max(resource);
      // Each round removes one account: at most as many rounds as accounts.
      for (let rounds = this.#accounts.size; rounds > 0 && this.#totals[resource] > max; rounds--) {
        let worst: BudgetAccount | undefined;
        for (const a of this.#accounts) if (worst === undefined || a[resource] > worst[resource]) worst = a;
        if (worst === undefined || worst[resource] === 0) break;
        this.#shed[resource]++;
        const total = this.#totals[resource];
        try {
          worst.member.shed(`daemon-wide budget: ${resource} ${total} > ${max}; this link holds the most (${worst[resource]})`);
        } catch {
          // The member's shed is guarded; whatever happens, the account goes below.
        }
        worst.leave(); // in case the link did not leave on its own
      }
    }
  }
}

/**
 * A hot, multicast Observable for the per-message paths (messages$,
 * transactions$, a transaction's rx$): what an rxjs Subject seen through
 * asObservable() does, at a fraction of the cost per value and per
 * subscription. rxjs 7's Subject.next allocates a closure and an iterator
 * per value; each subscription to a Subject adds a Subscription with a
 * teardown closure that unsubscribing runs. Here subscribers sit in a plain
 * array, closed ones are skipped and dropped at the next subscribe, and
 * there is no teardown to run.
 *
 * Same semantics as Subject: values go to the subscribers present when
 * `next` starts; after complete or error every new subscriber gets that end
 * at once. A plain observer that throws is reported to the `onObserverError`
 * given at construction (see guarded-observer.ts), never to the caller of
 * `next` and never to rxjs's uncaught-error timer.
 */
import { Observable, type Observer, type Subscriber, type Subscription } from 'rxjs';
import { guardedSubscriber, isSubscriber, type ObserverErrorHandler } from './guarded-observer.ts';

const NONE: readonly Subscriber<never>[] = Object.freeze([]);

const OPEN = 0;
const COMPLETED = 1;
const ERRORED = 2;

export class Multicast<T> extends Observable<T> {
  /** Replaced, never mutated, so a dispatch in progress keeps its snapshot. */
  #subs: readonly Subscriber<T>[] = NONE;
  #state: typeof OPEN | typeof COMPLETED | typeof ERRORED = OPEN;
  #error: unknown = undefined;
  readonly #onObserverError: ObserverErrorHandler<T>;

  /** @param onObserverError told when a subscriber's callback throws (the value being delivered, if any) */
  constructor(onObserverError: ObserverErrorHandler<T>) {
    super();
    this.#onObserverError = onObserverError;
  }

  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void)): Subscription;
  /** @deprecated rxjs's three-callback form; pass an observer object. */
  override subscribe(next?: ((value: T) => void) | null, error?: ((error: unknown) => void) | null, complete?: (() => void) | null): Subscription;
  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null, error?: ((error: unknown) => void) | null, complete?: (() => void) | null): Subscription {
    if (isSubscriber(observerOrNext)) return super.subscribe(observerOrNext as Subscriber<T>);
    return super.subscribe(guardedSubscriber(observerOrNext, error, complete, this.#onObserverError));
  }

  /** Called by Observable.subscribe (rxjs's subscribe-function protocol). @internal */
  _subscribe(subscriber: Subscriber<T>): void {
    if (this.#state === COMPLETED) {
      subscriber.complete();
      return;
    }
    if (this.#state === ERRORED) {
      subscriber.error(this.#error);
      return;
    }
    const old = this.#subs;
    if (old.length === 0) {
      this.#subs = [subscriber];
      return;
    }
    const next: Subscriber<T>[] = [];
    for (let i = 0; i < old.length; i++) if (!old[i]!.closed) next.push(old[i]!);
    next.push(subscriber);
    this.#subs = next;
  }

  /** True while some subscriber is still subscribed. */
  get observed(): boolean {
    const subs = this.#subs;
    for (let i = 0; i < subs.length; i++) if (!subs[i]!.closed) return true;
    return false;
  }

  next(value: T): void {
    const subs = this.#subs;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (!s.closed) s.next(value);
    }
  }

  complete(): void {
    if (this.#state !== OPEN) return;
    this.#state = COMPLETED;
    const subs = this.#subs;
    this.#subs = NONE;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (!s.closed) s.complete();
    }
  }

  error(err: unknown): void {
    if (this.#state !== OPEN) return;
    this.#state = ERRORED;
    this.#error = err;
    const subs = this.#subs;
    this.#subs = NONE;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (!s.closed) s.error(err);
    }
  }
}

/**
 * A hot, multicast Observable for the per-message paths (messages$,
 * transactions$, a transaction's rx$): what an rxjs Subject seen through
 * asObservable() does, at a fraction of the cost per value and per
 * subscription. rxjs 7's Subject.next allocates a closure and an iterator
 * per value; each subscription to a Subject adds a Subscription with a
 * teardown closure that unsubscribing runs. Here subscribers sit in a plain
 * array, closed ones are skipped and dropped at the next subscribe, and
 * there is no teardown to run. A plain observer (or next function) gets one
 * object, its Subscription with the guarded callbacks (PlainSubscription),
 * instead of rxjs's Subscriber + guarded observer + Observable.subscribe
 * machinery: every transaction's rx$ is subscribed once per round trip.
 *
 * Same semantics as Subject: values go to the subscribers present when
 * `next` starts; after complete or error every new subscriber gets that end
 * at once. A plain observer that throws is reported to the `onObserverError`
 * given at construction (see guarded-observer.ts), never to the caller of
 * `next` and never to rxjs's uncaught-error timer.
 */
import { Observable, Subscription, type Observer, type Subscriber } from 'rxjs';
import { isSubscriber, type ObserverErrorHandler } from './guarded-observer.ts';

/** What a Multicast delivers to: an operator's rxjs Subscriber, or a PlainSubscription. */
interface Sink<T> {
  readonly closed: boolean;
  next(value: T): void;
  error(err: unknown): void;
  complete(): void;
}

const NONE: readonly Sink<never>[] = Object.freeze([]);

/**
 * Moves on whenever any Multicast's subscribers may have changed (a
 * subscribe, a plain subscription stopped or unsubscribed, a complete or
 * error): what `soleObserver()` returned stays true while `n` is unchanged
 * (the receive tap caches it so). One counter for all: a change anywhere
 * only costs a cache its next check. @internal
 */
export const subscriberEpoch = { n: 0 };

/**
 * The subscription of a plain observer (or next function): it is the
 * Subscription returned to the caller and the guarded observer in one
 * object. Callbacks run with the observer as `this`; what they throw goes to
 * `onError`, never up the stack. After error or complete nothing more is
 * delivered and the subscription is unsubscribed (running anything added to
 * it), as an rxjs Subscriber does.
 */
class PlainSubscription<T> extends Subscription implements Sink<T> {
  /** The observer object, or undefined when a bare next function was given. */
  readonly #o: Partial<Observer<T>> | undefined;
  readonly #nextFn: ((value: T) => void) | undefined;
  readonly #errorFn: ((err: unknown) => void) | undefined;
  readonly #completeFn: (() => void) | undefined;
  readonly #owner: Multicast<T>;
  #stopped = false;

  constructor(
    observerOrNext: Partial<Observer<T>> | ((value: T) => void) | null | undefined,
    error: ((error: unknown) => void) | null | undefined,
    complete: (() => void) | null | undefined,
    owner: Multicast<T>,
  ) {
    super();
    if (typeof observerOrNext === 'function') {
      this.#o = undefined;
      this.#nextFn = observerOrNext;
      this.#errorFn = error ?? undefined;
      this.#completeFn = complete ?? undefined;
    } else {
      this.#o = observerOrNext ?? undefined;
    }
    this.#owner = owner;
  }

  /** The observer object this subscription delivers to while it is open (undefined for a bare next function, or once stopped). */
  get observer(): Partial<Observer<T>> | undefined {
    return this.#stopped ? undefined : this.#o;
  }

  override unsubscribe(): void {
    subscriberEpoch.n++;
    super.unsubscribe();
  }

  next(value: T): void {
    if (this.#stopped) return;
    const o = this.#o;
    try {
      if (o === undefined) this.#nextFn?.(value);
      else if (o.next !== undefined) o.next(value);
    } catch (err) {
      this.#owner.observerFailed(err, value);
    }
  }

  error(e: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    subscriberEpoch.n++;
    const o = this.#o;
    try {
      if (o === undefined) this.#errorFn?.(e);
      else if (o.error !== undefined) o.error(e);
    } catch (err) {
      this.#owner.observerFailed(err, undefined);
    } finally {
      this.unsubscribe();
    }
  }

  complete(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    subscriberEpoch.n++;
    const o = this.#o;
    try {
      if (o === undefined) this.#completeFn?.();
      else if (o.complete !== undefined) o.complete();
    } catch (err) {
      this.#owner.observerFailed(err, undefined);
    } finally {
      this.unsubscribe();
    }
  }
}

const OPEN = 0;
const COMPLETED = 1;
const ERRORED = 2;

export class Multicast<T> extends Observable<T> {
  /**
   * The subscribers: one in #one (most have one: a transaction's rx$), more
   * in #many (then #one is null). #many is replaced, never mutated, and
   * #one is only replaced, so a dispatch in progress keeps its snapshot.
   */
  #one: Sink<T> | null = null;
  #many: readonly Sink<T>[] = NONE;
  #state: typeof OPEN | typeof COMPLETED | typeof ERRORED = OPEN;
  #error: unknown = undefined;
  readonly #onObserverError: ObserverErrorHandler<T> | undefined;

  /**
   * @param onObserverError told when a subscriber's callback throws (the
   * value being delivered, if any); a subclass may override
   * `observerFailed` instead (no closure per instance)
   */
  constructor(onObserverError?: ObserverErrorHandler<T>) {
    super();
    this.#onObserverError = onObserverError;
  }

  /** A plain subscriber's callback threw: tell the handler given at construction. @internal */
  observerFailed(err: unknown, value: T | undefined): void {
    this.#onObserverError?.(err, value);
  }

  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void)): Subscription;
  /** @deprecated rxjs's three-callback form; pass an observer object. */
  override subscribe(next?: ((value: T) => void) | null, error?: ((error: unknown) => void) | null, complete?: (() => void) | null): Subscription;
  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null, error?: ((error: unknown) => void) | null, complete?: (() => void) | null): Subscription {
    if (isSubscriber(observerOrNext)) return super.subscribe(observerOrNext as Subscriber<T>);
    const sub = new PlainSubscription<T>(observerOrNext, error, complete, this);
    this._subscribe(sub);
    return sub;
  }

  /** Called by Observable.subscribe (rxjs's subscribe-function protocol) and by subscribe. @internal */
  _subscribe(subscriber: Sink<T>): void {
    subscriberEpoch.n++;
    if (this.#state === COMPLETED) {
      subscriber.complete();
      return;
    }
    if (this.#state === ERRORED) {
      subscriber.error(this.#error);
      return;
    }
    const one = this.#one;
    if (one === null && this.#many.length === 0) {
      this.#one = subscriber;
      return;
    }
    if (one !== null) {
      this.#one = null;
      this.#many = one.closed ? [subscriber] : [one, subscriber];
      return;
    }
    const old = this.#many;
    const next: Sink<T>[] = [];
    for (let i = 0; i < old.length; i++) if (!old[i]!.closed) next.push(old[i]!);
    next.push(subscriber);
    this.#many = next;
  }

  /** True while some subscriber is still subscribed. */
  get observed(): boolean {
    const one = this.#one;
    if (one !== null) return !one.closed;
    const subs = this.#many;
    for (let i = 0; i < subs.length; i++) if (!subs[i]!.closed) return true;
    return false;
  }

  /**
   * The observer object of the only subscriber, when there is exactly one,
   * it is open and it was subscribed as a plain observer object; undefined
   * otherwise. next() would deliver to it alone. Unchanged while
   * `subscriberEpoch.n` is. @internal
   */
  soleObserver(): Partial<Observer<T>> | undefined {
    const one = this.#one;
    return one instanceof PlainSubscription && !one.closed ? one.observer : undefined;
  }

  next(value: T): void {
    const one = this.#one;
    if (one !== null) {
      if (!one.closed) one.next(value);
      return;
    }
    const subs = this.#many;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (!s.closed) s.next(value);
    }
  }

  complete(): void {
    if (this.#state !== OPEN) return;
    this.#state = COMPLETED;
    subscriberEpoch.n++;
    const one = this.#one;
    const subs = this.#many;
    this.#one = null;
    this.#many = NONE;
    if (one !== null && !one.closed) one.complete();
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (!s.closed) s.complete();
    }
  }

  error(err: unknown): void {
    if (this.#state !== OPEN) return;
    this.#state = ERRORED;
    subscriberEpoch.n++;
    this.#error = err;
    const one = this.#one;
    const subs = this.#many;
    this.#one = null;
    this.#many = NONE;
    if (one !== null && !one.closed) one.error(err);
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (!s.closed) s.error(err);
    }
  }
}

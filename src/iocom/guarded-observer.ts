/**
 * Subscriber callbacks that cannot throw out of the iocom. rxjs reports an
 * exception thrown by a subscriber's `next` (or an `error` nobody handles) by
 * rethrowing it from a timer: an uncaught exception that ends the process.
 * On the receive path that would let a peer's message kill the relay through
 * any handler bug. The iocom's observables wrap every plain observer given to
 * `subscribe()` so that such an exception is handed to the iocom instead
 * (which then costs only the transaction or the link concerned), and an
 * error without an `error` callback ends the subscription silently (the
 * transaction's or link's end is still visible through its state and closed$).
 *
 * Subscribers passed by rxjs operators (`pipe(...)`) are left alone: the
 * operator chain forwards exceptions downstream itself, and the final plain
 * observer of the chain is wrapped by the Observable it subscribes to, which
 * is not ours. Handlers that must be safe should subscribe directly.
 */
import { Observable, Subscriber, type Observer, type Subscription } from 'rxjs';

/** Told about an exception a subscriber threw; `value` is what was being delivered (undefined for error/complete). */
export type ObserverErrorHandler<T> = (err: unknown, value: T | undefined) => void;

type ObserverArg<T> = Partial<Observer<T>> | ((value: T) => void) | null | undefined;

/** One object per subscription (no closures): the rx$ of every transaction gets one. */
class GuardedObserver<T> implements Observer<T> {
  readonly #o: Partial<Observer<T>>;
  readonly #onError: ObserverErrorHandler<T>;

  constructor(o: Partial<Observer<T>>, onError: ObserverErrorHandler<T>) {
    this.#o = o;
    this.#onError = onError;
  }

  next(value: T): void {
    const o = this.#o;
    if (o.next === undefined) return;
    try {
      o.next(value);
    } catch (err) {
      this.#onError(err, value);
    }
  }

  error(e: unknown): void {
    const o = this.#o;
    if (o.error === undefined) return;
    try {
      o.error(e);
    } catch (err) {
      this.#onError(err, undefined);
    }
  }

  complete(): void {
    const o = this.#o;
    if (o.complete === undefined) return;
    try {
      o.complete();
    } catch (err) {
      this.#onError(err, undefined);
    }
  }
}

/**
 * A Subscriber around a guarded observer. Handing rxjs a Subscriber skips its
 * SafeSubscriber and ConsumerObserver layers (their own try/catch, which can
 * never fire here): per message one call less than a plain subscribe().
 */
export function guardedSubscriber<T>(
  observerOrNext: ObserverArg<T>,
  error: ((e: unknown) => void) | null | undefined,
  complete: (() => void) | null | undefined,
  onError: ObserverErrorHandler<T>,
): Subscriber<T> {
  return new Subscriber<T>(guardObserver(observerOrNext, error, complete, onError));
}

/** A plain observer whose callbacks never throw: exceptions go to `onError`. */
export function guardObserver<T>(
  observerOrNext: ObserverArg<T>,
  error: ((e: unknown) => void) | null | undefined,
  complete: (() => void) | null | undefined,
  onError: ObserverErrorHandler<T>,
): Observer<T> {
  const o: Partial<Observer<T>> = typeof observerOrNext === 'function' ? { next: observerOrNext, error: error ?? undefined, complete: complete ?? undefined } : (observerOrNext ?? {});
  return new GuardedObserver(o, onError);
}

/** Is this an rxjs Subscriber (an operator's, or one made by rxjs) rather than a plain observer? */
export function isSubscriber(x: unknown): x is Subscriber<unknown> {
  return x instanceof Subscriber;
}

/** An Observable over `source` whose plain subscribers are guarded (see the file comment). */
export class GuardedObservable<T> extends Observable<T> {
  readonly #onError: ObserverErrorHandler<T>;

  constructor(source: Observable<T>, onError: ObserverErrorHandler<T>) {
    super((subscriber) => source.subscribe(subscriber));
    this.#onError = onError;
  }

  override subscribe(observerOrNext?: Partial<Observer<T>> | ((value: T) => void)): Subscription;
  /** @deprecated rxjs's three-callback form; pass an observer object. */
  override subscribe(next?: ((value: T) => void) | null, error?: ((error: unknown) => void) | null, complete?: (() => void) | null): Subscription;
  override subscribe(observerOrNext?: ObserverArg<T>, error?: ((error: unknown) => void) | null, complete?: (() => void) | null): Subscription {
    if (isSubscriber(observerOrNext)) return super.subscribe(observerOrNext as Subscriber<T>);
    return super.subscribe(guardedSubscriber(observerOrNext, error, complete, this.#onError));
  }
}

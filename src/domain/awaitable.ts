/**
 * A value now, or later. The introspection path returns plain values when everything it needs is
 * in memory (a principal-cache hit, a known client): each promise costs a trip through the
 * microtask queue, and on the hottest path those trips added up to a tenth of a request.
 * Callers may always `await` an Awaitable.
 */
export type Awaitable<T> = T | Promise<T>;

/** `next` applied to the value: at once when it is there, when it arrives when it is not. */
export function andThen<T, U>(value: Awaitable<T>, next: (value: T) => Awaitable<U>): Awaitable<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

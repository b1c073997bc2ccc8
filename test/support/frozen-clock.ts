import type { Clock } from '../../src/ports.ts';

/** A clock that moves only when told, for expiry tests without sleeping. */
export class FrozenClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }
}

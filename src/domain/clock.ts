/** Time, injectable so that expiry can be tested with a frozen clock. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

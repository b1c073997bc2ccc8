import type { HealthCheck } from '../../ports.ts';

export interface Readiness {
  ready: boolean;
  checks: Record<string, 'up' | 'down'>;
}

/** Readiness: every store this instance depends on answers, checked in parallel. */
export class HealthService {
  private readonly checks: readonly HealthCheck[];

  constructor(checks: readonly HealthCheck[]) {
    this.checks = checks;
  }

  async readiness(): Promise<Readiness> {
    const results = await Promise.allSettled(this.checks.map((check) => check.ping()));
    const checks: Record<string, 'up' | 'down'> = {};
    results.forEach((result, i) => {
      checks[this.checks[i]!.name] = result.status === 'fulfilled' ? 'up' : 'down';
    });
    return { ready: Object.values(checks).every((state) => state === 'up'), checks };
  }
}

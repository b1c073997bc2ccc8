import type { Balance, DailyUsage, MeteredCredential, MeteringStore, UsageDelta } from '../../ports.ts';

export class MemoryMeteringStore implements MeteringStore {
  private readonly days = new Map<string, DailyUsage>();
  private readonly creditedBy = new Map<string, number>();
  private readonly spent = new Map<string, number>();

  async add(delta: UsageDelta): Promise<void> {
    const key = dayKey(delta.credential, delta.day);
    const day = this.days.get(key) ?? { day: delta.day, requests: 0, credits: 0 };
    this.days.set(key, { day: delta.day, requests: day.requests + delta.requests, credits: day.credits + delta.credits });
    this.spent.set(delta.orgId, (this.spent.get(delta.orgId) ?? 0) + delta.credits);
  }

  async series(credential: MeteredCredential, from: string, to: string): Promise<DailyUsage[]> {
    const prefix = dayKey(credential, '');
    return [...this.days.entries()]
      .filter(([key, usage]) => key.startsWith(prefix) && usage.day >= from && usage.day <= to)
      .map(([, usage]) => ({ ...usage }))
      .sort((a, b) => (a.day < b.day ? -1 : 1));
  }

  async balance(orgId: string): Promise<Balance> {
    return { credited: this.creditedBy.get(orgId) ?? 0, spent: this.spent.get(orgId) ?? 0 };
  }

  async credited(orgId: string): Promise<number> {
    return this.creditedBy.get(orgId) ?? 0;
  }

  async credit(orgId: string, credits: number): Promise<Balance> {
    this.creditedBy.set(orgId, (this.creditedBy.get(orgId) ?? 0) + credits);
    return this.balance(orgId);
  }
}

const dayKey = (credential: MeteredCredential, day: string): string => `${credential.kind}:${credential.id}:${day}`;

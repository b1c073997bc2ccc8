/**
 * Values by key, each also filed under the groups whose events must drop it (`user:<id>`,
 * `grant:<id>`…), so that an event finds its keys at once. Keys iterate oldest first: setting a
 * key again files it last.
 */
export class GroupedMap<V> {
  private readonly entries = new Map<string, { value: V; groups: readonly string[] }>();
  private readonly byGroup = new Map<string, Set<string>>();

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  set(key: string, value: V, groups: readonly string[]): void {
    this.delete(key);
    this.entries.set(key, { value, groups });
    for (const group of groups) {
      let keys = this.byGroup.get(group);
      if (!keys) this.byGroup.set(group, (keys = new Set()));
      keys.add(key);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    for (const group of entry.groups) {
      const keys = this.byGroup.get(group);
      keys?.delete(key);
      if (keys?.size === 0) this.byGroup.delete(group);
    }
  }

  /** The keys filed under `group`, as a copy: safe to delete while going through them. */
  keysIn(group: string): string[] {
    return [...(this.byGroup.get(group) ?? [])];
  }

  /** Every key, oldest first. */
  keys(): MapIterator<string> {
    return this.entries.keys();
  }

  oldestKey(): string | undefined {
    return this.keys().next().value;
  }

  clear(): void {
    this.entries.clear();
    this.byGroup.clear();
  }
}

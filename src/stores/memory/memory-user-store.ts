import { normalizeEmail, type User } from '../../domain/accounts.ts';
import { ConflictError } from '../../errors/index.ts';
import type { UserPatch, UserStore } from '../../ports.ts';

export class MemoryUserStore implements UserStore {
  private readonly byId = new Map<string, User>();
  private readonly idByEmail = new Map<string, string>();

  async insert(user: User): Promise<void> {
    const email = normalizeEmail(user.email);
    if (this.byId.has(user.id)) throw new ConflictError('A user with this id already exists', 'id');
    if (this.idByEmail.has(email)) throw new ConflictError('A user with this email already exists', 'email');
    this.byId.set(user.id, structuredClone(user));
    this.idByEmail.set(email, user.id);
  }

  async findById(id: string): Promise<User | null> {
    const user = this.byId.get(id);
    return user ? structuredClone(user) : null;
  }

  async findByEmail(email: string): Promise<User | null> {
    const id = this.idByEmail.get(normalizeEmail(email));
    return id === undefined ? null : this.findById(id);
  }

  async update(id: string, patch: UserPatch): Promise<User | null> {
    const user = this.byId.get(id);
    if (!user) return null;
    if (patch.email !== undefined) {
      const next = normalizeEmail(patch.email);
      const owner = this.idByEmail.get(next);
      if (owner !== undefined && owner !== id) throw new ConflictError('A user with this email already exists', 'email');
      this.idByEmail.delete(normalizeEmail(user.email));
      this.idByEmail.set(next, id);
    }
    const updated = { ...user, ...definedOnly(patch) };
    this.byId.set(id, updated);
    return structuredClone(updated);
  }
}

/** Drops keys whose value is undefined, so a patch never erases a field by omission. */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}

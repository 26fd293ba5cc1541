/**
 * Bounded caches. Compiled modules and generated kernels are cached by content so that the train,
 * gradient and eval programs of a network (and recompiles of one model) share them; a process
 * that compiles model after model must not keep every one it ever made. Each cache keeps its most
 * recently used `capacity` entries (a Map iterates in insertion order: re-inserting on use makes
 * the first key the least recently used one), and registers itself so KILN_DEBUG can report sizes.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  evictions = 0;

  constructor(readonly name: string, readonly capacity: number) {
    caches.push(this as Lru<unknown, unknown>);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) { this.map.delete(key); this.map.set(key, v); }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      this.map.delete(this.map.keys().next().value as K);
      this.evictions++;
    }
  }

  /** The cached value of `key`, made by `make` on a miss. */
  getOrMake(key: K, make: () => V): V {
    let v = this.get(key);
    if (v === undefined) this.set(key, (v = make()));
    return v;
  }
}

const caches: Lru<unknown, unknown>[] = [];

/** Every bounded cache of the process: name, entries, capacity, evictions so far. */
export function cacheStats(): { name: string; size: number; capacity: number; evictions: number }[] {
  return caches.map((c) => ({ name: c.name, size: c.size, capacity: c.capacity, evictions: c.evictions }));
}

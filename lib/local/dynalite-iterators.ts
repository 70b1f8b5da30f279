import { createRequire } from 'node:module';

/**
 * dynalite 4 (the latest release) reads through `db.values()` / `db.keys()` iterators and, when a
 * query or scan stream ends or stops early, closes them with `iterator.return()` — a method
 * abstract-level 3 iterators do not have (theirs is `close()`). So every Query and Scan left one
 * iterator open: registered with the database (`attachResource`), holding its LevelDB snapshot,
 * until the store closed. The local stack's memory grew with every read.
 *
 * This gives the iterators of the abstract-level copy dynalite loads the async-iterator `return()`
 * it expects, delegating to `close()`. Applied once, before a dynalite server is created; nothing in
 * node_modules is edited. Remove it when dynalite closes its iterators itself.
 */
let applied = false;

/** The abstract-level module as dynalite's own LevelDB backends resolve it. */
export function dynaliteAbstractLevel(): {
  AbstractLevel: { prototype: object };
  AbstractValueIterator: { prototype: object };
} {
  const fromHere = createRequire(import.meta.url);
  const fromDynalite = createRequire(fromHere.resolve('dynalite'));
  return createRequire(fromDynalite.resolve('memory-level'))('abstract-level');
}

export function closeDynaliteIterators(): void {
  if (applied) return;
  applied = true;
  // CommonIterator: the shared base of entry, key and value iterators (not exported by name).
  const common = Object.getPrototypeOf(dynaliteAbstractLevel().AbstractValueIterator.prototype) as {
    return?: () => Promise<IteratorResult<unknown>>;
    close(): Promise<void>;
  };
  if (typeof common.return === 'function') return;
  Object.defineProperty(common, 'return', {
    configurable: true,
    writable: true,
    value: async function (this: { close(): Promise<void> }) {
      await this.close();
      return { done: true, value: undefined };
    },
  });
}

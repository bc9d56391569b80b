// A set of strings in ascending order (by UTF-16 code unit), for listings paged from a position: a page starts with a
// binary search and reads only what it returns, whatever the size of the set.

export class SortedStrings {
  readonly #items: string[] = [];

  /** The index of the first item not below `value` (of the first item above it when `strict`). */
  #search(value: string, strict: boolean): number {
    let [lo, hi] = [0, this.#items.length];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const item = this.#items[mid]!;
      if (item < value || (strict && item === value)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get size(): number {
    return this.#items.length;
  }

  add(value: string): void {
    const i = this.#search(value, false);
    if (this.#items[i] !== value) this.#items.splice(i, 0, value);
  }

  delete(value: string): boolean {
    const i = this.#search(value, false);
    if (this.#items[i] !== value) return false;
    this.#items.splice(i, 1);
    return true;
  }

  /** The items above `bound` (every item when undefined), in order; the set must not change while this is read. */
  *above(bound: string | undefined): Generator<string> {
    for (let i = bound === undefined ? 0 : this.#search(bound, true); i < this.#items.length; i++) yield this.#items[i]!;
  }
}

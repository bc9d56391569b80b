// A binary min-heap by expiry time: what the revocation set uses to find its expired records without walking the rest.

export interface ExpiryEntry<K extends string> {
  /** The record's `expiresAt` when this entry was queued (epoch seconds). */
  readonly at: number;
  readonly kind: K;
  readonly value: string;
}

export class ExpiryQueue<K extends string> {
  #heap: Array<ExpiryEntry<K>> = [];

  get size(): number {
    return this.#heap.length;
  }

  /** The entry that expires first, if any. */
  peek(): ExpiryEntry<K> | undefined {
    return this.#heap[0];
  }

  push(entry: ExpiryEntry<K>): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  pop(): ExpiryEntry<K> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  /** Replace every entry, in O(n) (Floyd's heap construction) rather than n pushes. */
  reset(entries: Array<ExpiryEntry<K>>): void {
    this.#heap = entries;
    for (let i = (entries.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    const entry = heap[start]!;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1]!.at < heap[child]!.at) child++;
      if (entry.at <= heap[child]!.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = entry;
  }
}

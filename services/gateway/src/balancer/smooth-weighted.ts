/**
 * nginx's smooth weighted round-robin, step for step, without touching every entry on
 * every step.
 *
 * nginx keeps a `current` per peer; a step adds each peer's weight to its current, picks the
 * largest (the first on a tie) and takes the total weight off the winner. That is O(n) per
 * step. Here `current = base + t * weight`, where t counts steps: a step then changes only the
 * winner's `base`. Entries of equal weight keep their order between steps, so each weight
 * class is a max-heap by base, and a step compares the tops of the classes: O(classes + log n)
 * instead of O(n). Integer weights give exactly nginx's sequence (the arithmetic is exact);
 * `adaptive` quantises its weights so that there are few classes.
 */
export class SmoothWeighted {
  #n = 0;
  #total = 0;
  #t = 0;
  #classes = 0;
  /** Per entry. */
  #weight = new Float64Array(0);
  #base = new Float64Array(0);
  #classOfEntry = new Int32Array(0);
  /** Per class. */
  #classWeight = new Float64Array(0);
  #classStart = new Int32Array(0);
  #classSize = new Int32Array(0);
  /** Entry numbers, one segment per class, each segment a heap. */
  #heap = new Int32Array(0);
  readonly #classByWeight = new Map<number, number>();

  get size(): number {
    return this.#n;
  }

  get total(): number {
    return this.#total;
  }

  /**
   * Loads entries 0..n-1 with their weights (> 0) and nginx currents. Reuses its arrays, so
   * only a group that grew allocates. O(n).
   */
  load(weights: Float64Array, currents: Float64Array, n: number): void {
    if (this.#weight.length < n) this.#grow(n);
    const classByWeight = this.#classByWeight;
    classByWeight.clear();
    let classes = 0;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const weight = weights[j]!;
      let c = classByWeight.get(weight);
      if (c === undefined) {
        c = classes++;
        classByWeight.set(weight, c);
        this.#classWeight[c] = weight;
        this.#classSize[c] = 0;
      }
      this.#classOfEntry[j] = c;
      this.#classSize[c]!++;
      this.#weight[j] = weight;
      this.#base[j] = currents[j]!;
      total += weight;
    }
    let start = 0;
    for (let c = 0; c < classes; c++) {
      this.#classStart[c] = start;
      start += this.#classSize[c]!;
      this.#classSize[c] = 0; // refilled below
    }
    for (let j = 0; j < n; j++) {
      const c = this.#classOfEntry[j]!;
      this.#heap[this.#classStart[c]! + this.#classSize[c]!++] = j;
    }
    for (let c = 0; c < classes; c++) {
      for (let i = (this.#classSize[c]! >> 1) - 1; i >= 0; i--) this.#siftDown(c, i);
    }
    this.#n = n;
    this.#classes = classes;
    this.#total = total;
    this.#t = 0;
  }

  /** Every entry's nginx current, into `out`: what a reload carries over. */
  currents(out: Float64Array): void {
    const t = this.#t;
    for (let j = 0; j < this.#n; j++) out[j] = this.#base[j]! + t * this.#weight[j]!;
  }

  /** One nginx step: the entry chosen. The group must not be empty. */
  step(): number {
    const t = this.#t + 1;
    const heap = this.#heap;
    const base = this.#base;
    let best = -1;
    let bestClass = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < this.#classes; c++) {
      const top = heap[this.#classStart[c]!]!;
      const value = base[top]! + t * this.#classWeight[c]!;
      if (value > bestValue || (value === bestValue && top < best)) {
        best = top;
        bestClass = c;
        bestValue = value;
      }
    }
    base[best] = base[best]! - this.#total;
    this.#siftDown(bestClass, 0);
    this.#advance(t);
    return best;
  }

  /**
   * A step whose winner must not be skipped (keys a request already tried): every entry
   * gains as usual, the best one not skipped pays. -1, and no step, when all are skipped.
   * Looks below a skipped heap top only, so it costs little more than a step.
   */
  stepExcept(skip: (entry: number) => boolean): number {
    const t = this.#t + 1;
    const heap = this.#heap;
    const base = this.#base;
    let best = -1;
    let bestClass = 0;
    let bestPosition = 0;
    let bestValue = Number.NEGATIVE_INFINITY;
    const pending: number[] = [];
    for (let c = 0; c < this.#classes; c++) {
      const start = this.#classStart[c]!;
      const size = this.#classSize[c]!;
      const gain = t * this.#classWeight[c]!;
      pending.push(0);
      while (pending.length > 0) {
        const position = pending.pop()!;
        const entry = heap[start + position]!;
        if (skip(entry)) {
          // Its children may be the best this class has left.
          if (2 * position + 1 < size) pending.push(2 * position + 1);
          if (2 * position + 2 < size) pending.push(2 * position + 2);
          continue;
        }
        const value = base[entry]! + gain;
        if (value > bestValue || (value === bestValue && entry < best)) {
          best = entry;
          bestClass = c;
          bestPosition = position;
          bestValue = value;
        }
      }
    }
    if (best < 0) return -1;
    base[best] = base[best]! - this.#total;
    this.#siftDown(bestClass, bestPosition);
    this.#advance(t);
    return best;
  }

  #advance(t: number): void {
    this.#t = t;
    // Keep t * weight far from 2^53, where the arithmetic would stop being exact.
    if (t >= 0x40000000) {
      for (let j = 0; j < this.#n; j++) this.#base[j] = this.#base[j]! + t * this.#weight[j]!;
      this.#t = 0;
    }
  }

  /** Restores the heap below `position` after that entry's base went down. */
  #siftDown(c: number, position: number): void {
    const heap = this.#heap;
    const base = this.#base;
    const start = this.#classStart[c]!;
    const size = this.#classSize[c]!;
    const entry = heap[start + position]!;
    const entryBase = base[entry]!;
    let at = position;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      let childEntry = heap[start + child]!;
      if (child + 1 < size) {
        const right = heap[start + child + 1]!;
        if (base[right]! > base[childEntry]! || (base[right] === base[childEntry] && right < childEntry)) {
          child++;
          childEntry = right;
        }
      }
      const childBase = base[childEntry]!;
      if (childBase < entryBase || (childBase === entryBase && childEntry > entry)) break;
      heap[start + at] = childEntry;
      at = child;
    }
    heap[start + at] = entry;
  }

  #grow(n: number): void {
    const capacity = Math.max(n, 2 * this.#weight.length);
    this.#weight = new Float64Array(capacity);
    this.#base = new Float64Array(capacity);
    this.#classOfEntry = new Int32Array(capacity);
    this.#classWeight = new Float64Array(capacity);
    this.#classStart = new Int32Array(capacity);
    this.#classSize = new Int32Array(capacity);
    this.#heap = new Int32Array(capacity);
  }
}

/**
 * Dominance queries for the exact solver's dynamic programme: "does a stored point lie at or below this
 * one in every dimension?". Points are inserted one at a time; they are kept in static k-d trees of
 * sizes 1, 2, 4, ... (the logarithmic method: inserting merges equal sizes), each node holding the
 * least corner of its subtree, so that a query skips every subtree whose corner is not below it.
 */

const LEAF = 8;
const INF = Number.POSITIVE_INFINITY;

/**
 * Reorders ids[lo..hi] (inclusive) so that ids[nth] holds the point whose coordinate `dim` ranks nth,
 * with no larger coordinate before it and no smaller one after it (Hoare's quickselect).
 */
function select(
  ids: Int32Array,
  coords: Float64Array,
  dims: number,
  dim: number,
  lo: number,
  hi: number,
  nth: number,
): void {
  while (hi > lo) {
    const pivot = coords[ids[(lo + hi) >> 1] * dims + dim];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (coords[ids[i] * dims + dim] < pivot) i++;
      while (coords[ids[j] * dims + dim] > pivot) j--;
      if (i <= j) {
        const t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
        i++;
        j--;
      }
    }
    if (nth <= j) hi = j;
    else if (nth >= i) lo = i;
    else return;
  }
}

/** One static k-d tree over some of the index's points. */
class Tree {
  readonly ids: Int32Array;
  /** Per node: first and end index into `ids`, children (-1 for a leaf). */
  private readonly lo: number[] = [];
  private readonly hi: number[] = [];
  private readonly left: number[] = [];
  private readonly right: number[] = [];
  /** Per node: the least coordinate of its points in every dimension, stride `dims`. */
  private readonly corner: number[] = [];

  constructor(
    ids: Int32Array,
    private readonly coords: Float64Array,
    private readonly dims: number,
  ) {
    this.ids = ids;
    if (ids.length > 0) this.build(0, ids.length);
  }

  private build(lo: number, hi: number): number {
    const node = this.lo.length;
    const { coords, dims, ids } = this;
    this.lo.push(lo);
    this.hi.push(hi);
    this.left.push(-1);
    this.right.push(-1);
    let widest = 0;
    let spread = -1;
    for (let d = 0; d < dims; d++) {
      let least = INF;
      let most = -INF;
      for (let i = lo; i < hi; i++) {
        const v = coords[ids[i] * dims + d];
        if (v < least) least = v;
        if (v > most) most = v;
      }
      this.corner.push(least);
      if (most - least > spread) {
        spread = most - least;
        widest = d;
      }
    }
    if (hi - lo > LEAF && spread > 0) {
      const mid = (lo + hi) >> 1;
      select(ids, coords, dims, widest, lo, hi - 1, mid);
      this.left[node] = this.build(lo, mid);
      this.right[node] = this.build(mid, hi);
    }
    return node;
  }

  /** Whether a point of this tree is <= q (coordinates q[at..at + dims)) in every dimension. */
  dominates(q: ArrayLike<number>, at: number, stack: Int32Array): boolean {
    if (this.ids.length === 0) return false;
    const { coords, dims, ids, corner, left, right, lo, hi } = this;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const node = stack[--top];
      let below = true;
      for (let d = 0; d < dims && below; d++) below = corner[node * dims + d] <= q[at + d];
      if (!below) continue;
      if (left[node] < 0) {
        for (let i = lo[node]; i < hi[node]; i++) {
          const p = ids[i] * dims;
          let le = true;
          for (let d = 0; d < dims && le; d++) le = coords[p + d] <= q[at + d];
          if (le) return true;
        }
      } else {
        stack[top++] = right[node];
        stack[top++] = left[node];
      }
    }
    return false;
  }
}

/** Points inserted since the last tree was made: scanned one by one. */
const BUFFER = 32;

/**
 * Up to `capacity` points in `dims` dimensions; answers whether any inserted point is <= a query in
 * every dimension.
 */
export class DominanceIndex {
  private readonly coords: Float64Array;
  private count = 0;
  /** Points [built, count) are in no tree yet. */
  private built = 0;
  private readonly trees: Tree[] = [];
  /** Traversal stack: a balanced tree of 2^31 points is less than 64 levels deep. */
  private readonly stack = new Int32Array(128);

  constructor(
    private readonly dims: number,
    capacity: number,
  ) {
    this.coords = new Float64Array(dims * capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Whether an inserted point is <= q[at..at + dims) in every dimension. */
  dominated(q: ArrayLike<number>, at = 0): boolean {
    const { coords, dims } = this;
    for (let i = this.built; i < this.count; i++) {
      let le = true;
      for (let d = 0; d < dims && le; d++) le = coords[i * dims + d] <= q[at + d];
      if (le) return true;
    }
    for (let t = this.trees.length - 1; t >= 0; t--) {
      if (this.trees[t].dominates(q, at, this.stack)) return true;
    }
    return false;
  }

  /** Inserts p[at..at + dims). */
  insert(p: ArrayLike<number>, at = 0): void {
    const { dims } = this;
    for (let d = 0; d < dims; d++) this.coords[this.count * dims + d] = p[at + d];
    this.count++;
    if (this.count - this.built < BUFFER) return;
    let ids = Int32Array.from({ length: this.count - this.built }, (_, i) => this.built + i);
    this.built = this.count;
    while (this.trees.length > 0 && this.trees[this.trees.length - 1].ids.length <= ids.length) {
      const merged = new Int32Array(ids.length + this.trees[this.trees.length - 1].ids.length);
      merged.set(this.trees.pop()!.ids);
      merged.set(ids, merged.length - ids.length);
      ids = merged;
    }
    this.trees.push(new Tree(ids, this.coords, dims));
  }
}

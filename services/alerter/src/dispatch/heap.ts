/** A binary min-heap of timed items: the dispatcher's timer wheel, so `due` looks only at what is due. */
export class TimeHeap<T> {
  #items: { at: number; item: T }[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(at: number, item: T): void {
    const a = this.#items;
    a.push({ at, item });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]!.at <= a[i]!.at) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  peek(): { at: number; item: T } | undefined {
    return this.#items[0];
  }

  pop(): { at: number; item: T } | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]!.at < a[m]!.at) m = l;
      if (r < a.length && a[r]!.at < a[m]!.at) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
    return top;
  }

  /** Rebuilds from the items still wanted (stale entries are otherwise skipped when they come up). */
  rebuild(keep: (item: T, at: number) => boolean): void {
    const items = this.#items.filter((e) => keep(e.item, e.at));
    this.#items = [];
    for (const e of items) this.push(e.at, e.item);
  }
}

/**
 * Items in order of last use: touch, remove and oldest in O(1). A Map re-inserted
 * on every use keeps that order too, but deleting from its front leaves holes that
 * every later walk from the front skips until the table is rebuilt: with traces
 * coming and going at tens of thousands a second, that walk dominated the stage.
 */
export class Recency<T> {
  private readonly nodes = new Map<T, Node<T>>();
  private head: Node<T> | null = null;
  private tail: Node<T> | null = null;

  get size(): number {
    return this.nodes.size;
  }

  /** The least recently used item. */
  oldest(): T | undefined {
    return this.head?.value;
  }

  /** Marks an item used now, adding it if new. */
  touch(value: T): void {
    let node = this.nodes.get(value);
    if (node) {
      if (node === this.tail) return;
      this.unlink(node);
    } else {
      node = { value, prev: null, next: null };
      this.nodes.set(value, node);
    }
    node.prev = this.tail;
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
  }

  remove(value: T): void {
    const node = this.nodes.get(value);
    if (!node) return;
    this.unlink(node);
    this.nodes.delete(value);
  }

  clear(): void {
    this.nodes.clear();
    this.head = this.tail = null;
  }

  private unlink(node: Node<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
  }
}

interface Node<T> {
  value: T;
  prev: Node<T> | null;
  next: Node<T> | null;
}

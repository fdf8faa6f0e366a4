import type { AiEvent, Attribution } from '@aispm/core';
import { callIdentity, isTwinCall, mergeCalls } from '@aispm/core';
import { Recency } from './recency.ts';

/** What an agent span hands down to the spans below it. */
export interface AgentContext {
  agent: string;
  user: string | null;
  conversation_id: string | null;
  identity: string | null;
  scopes: string[];
}

/** A span of the trace as far as attribution needs it; `agent` when it is (or inherited) an agent's. */
interface SpanNode {
  parent: string | null;
  agent?: AgentContext;
  /** A model call this span reported (for merging a twin that arrives later). */
  call?: { id: string | null; event: AiEvent; forwarded: boolean };
}

/** An event waiting for its agent ancestor. */
export interface Waiting {
  event: AiEvent;
  /** Stream time when it arrived: it waits until stream time reaches arrivedMs + waitMs. */
  arrivedMs: number;
  /** Spans whose ancestors are walked: its own, and a merged twin's. */
  from: string[];
  resolved: boolean;
}

interface Trace {
  key: string;
  tenant: string;
  spans: Map<string, SpanNode>;
  waiting: Waiting[];
  /** Call identity (provider + response id) → the span that reported it. */
  calls: Map<string, string>;
  lastMs: number;
}

/** A resolved event, ready to forward, with how it was attributed. */
export interface Resolved {
  event: AiEvent;
  attribution: Attribution;
}

/** Why an event was resolved without its walk reaching an agent or a root. */
export type CutReason = 'timeout' | 'trace_too_large' | 'evicted' | 'cycle';

export interface AssemblerOptions {
  /** How long (stream time) an event without its own agent waits for its agent ancestor. */
  waitMs: number;
  /** Most spans kept per trace; later ones are resolved at once with what is known. */
  maxSpansPerTrace: number;
  /** Most traces held; past it the least recently seen is resolved and dropped. */
  maxTraces: number;
  /** Most traces one tenant may hold (a share of maxTraces). */
  maxTracesPerTenant: number;
}

export interface AssemblerCounts {
  own: number;
  inherited: number;
  none: number;
  /** Reports of a model call already seen in the trace, merged into one event. */
  merged: number;
  /** Resolved before their walk ended, by reason. */
  cut: Record<CutReason, number>;
}

type Walk = { agent: AgentContext } | { root: true } | { missing: string } | { cycle: true };

/**
 * Trace assembly for one partition of the events topic, where all spans of a
 * trace arrive (keyed by tenant and trace). Pure: no I/O, no clock. Time is the
 * partition's stream time, which the caller derives from its records, so a replay
 * of the same records decides the same.
 *
 * An event naming its agent is `own` and leaves at once, as does a root span
 * without one (`none`). Any other waits for its agent ancestor: each new span of
 * its trace may complete the walk up the parent ids (through span links: spans
 * that are no AI action). It leaves `inherited` once the walk meets an agent,
 * `none` once it meets a root without one, and after waitMs with what is known.
 * The same model call reported twice in a trace (two instrumentations) is merged
 * into one event (merge.ts).
 */
export class TraceAssembler {
  private readonly options: AssemblerOptions;
  private readonly traces = new Map<string, Trace>();
  /** Traces in order of last activity, overall and per tenant: the oldest is let go first. */
  private readonly recent = new Recency<Trace>();
  private readonly perTenant = new Map<string, Recency<Trace>>();
  /** Waiting events in order of arrival: stream time only grows, so the front expires first. */
  private readonly queue: { trace: Trace; waiting: Waiting }[] = [];
  private queueHead = 0;
  private readonly dirty = new Set<string>();
  private streamMs = Number.NEGATIVE_INFINITY;
  private live = 0;
  /** Restores appended to the queue out of arrival order. */
  private unsorted = false;
  readonly counts: AssemblerCounts = {
    own: 0,
    inherited: 0,
    none: 0,
    merged: 0,
    cut: { timeout: 0, trace_too_large: 0, evicted: 0, cycle: 0 },
  };

  constructor(options: AssemblerOptions) {
    this.options = options;
  }

  get waitingEvents(): number {
    return this.live;
  }

  get heldTraces(): number {
    return this.traces.size;
  }

  /** Moves stream time forward (never back) and resolves what waited too long: at most `limit` events per call. */
  advance(streamMs: number, limit = Number.POSITIVE_INFINITY): Resolved[] {
    if (streamMs > this.streamMs) this.streamMs = streamMs;
    if (this.unsorted) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
      this.queue.sort((a, b) => a.waiting.arrivedMs - b.waiting.arrivedMs);
      this.unsorted = false;
    }
    const out: Resolved[] = [];
    const deadline = this.streamMs - this.options.waitMs;
    while (this.queueHead < this.queue.length) {
      const { trace, waiting } = this.queue[this.queueHead]!;
      if (!waiting.resolved && (waiting.arrivedMs > deadline || out.length >= limit)) break;
      this.queueHead++;
      if (!waiting.resolved) this.cut(trace, waiting, 'timeout', out);
    }
    this.compactQueue();
    if (out.length >= limit) return out;
    // Traces quiet for the wait are done: a late span of theirs would only find its agent gone.
    for (let trace = this.recent.oldest(); trace && trace.lastMs <= deadline; trace = this.recent.oldest())
      this.drop(trace, out);
    return out;
  }

  /**
   * Adds a span link: a span that is no AI action, or (with `agent`) an agent span whose
   * event went straight on, and what it hands down. Returns the events it lets go.
   */
  addLink(key: string, tenant: string, spanId: string, parent: string | null, agent?: AgentContext): Resolved[] {
    const out: Resolved[] = [];
    const trace = this.trace(key, tenant, out);
    const known = trace.spans.get(spanId);
    if (known) {
      if (!agent || known.agent) return out;
      known.agent = agent;
    } else {
      if (trace.spans.size >= this.options.maxSpansPerTrace) return out;
      trace.spans.set(spanId, agent ? { parent, agent } : { parent });
    }
    this.reconsider(trace, out);
    return out;
  }

  /** Adds an event; returns the events that leave now (this one first, when it does). */
  addEvent(key: string, event: AiEvent): Resolved[] {
    const out: Resolved[] = [];
    const trace = this.trace(key, event.tenant, out);
    const callId = callIdentity(event);
    const twin = this.twinOf(trace, event, callId);
    if (twin) {
      this.counts.merged++;
      this.merge(trace, twin, event, callId, out);
      return out;
    }
    if (trace.spans.size >= this.options.maxSpansPerTrace) {
      const walk = this.walk(trace, [event.span_id], event.parent_span_id);
      this.counts.cut.trace_too_large++;
      this.emit(event, 'agent' in walk ? walk.agent : null, out);
      return out;
    }
    const node: SpanNode = { parent: event.parent_span_id };
    if (event.kind === 'llm_call' || event.kind === 'embedding') node.call = { id: callId, event, forwarded: false };
    if (callId) trace.calls.set(callId, event.span_id);
    trace.spans.set(event.span_id, node);
    if (event.agent !== null) {
      node.agent = contextOf(event);
      if (node.call) node.call.forwarded = true;
      this.emit(event, 'own', out);
    } else {
      this.settle(trace, { event, arrivedMs: this.streamMs, from: [event.span_id], resolved: false }, out);
    }
    this.reconsider(trace, out);
    return out;
  }

  /** Trace keys whose waiting events changed since the last call: their checkpoints are due. */
  takeDirty(): string[] {
    const keys = [...this.dirty];
    this.dirty.clear();
    return keys;
  }

  /** The state of a trace that has events waiting, for its checkpoint; null when it has none. */
  snapshotOf(key: string): TraceSnapshot | null {
    const trace = this.traces.get(key);
    const waiting = trace?.waiting.filter((w) => !w.resolved) ?? [];
    if (!trace || waiting.length === 0) return null;
    return {
      tenant: trace.tenant,
      lastMs: trace.lastMs,
      spans: [...trace.spans].map(([id, node]) => ({ id, parent: node.parent, agent: node.agent ?? null })),
      waiting: waiting.map(({ event, arrivedMs, from }) => ({ event, arrivedMs, from })),
    };
  }

  /** Puts back a trace from its checkpoint (its waiting events wait on). */
  restore(key: string, snapshot: TraceSnapshot): void {
    const trace = this.trace(key, snapshot.tenant, []);
    trace.lastMs = Math.max(trace.lastMs, snapshot.lastMs);
    for (const span of snapshot.spans)
      trace.spans.set(span.id, span.agent ? { parent: span.parent, agent: span.agent } : { parent: span.parent });
    for (const w of snapshot.waiting) {
      const waiting: Waiting = { ...w, resolved: false };
      const callId = callIdentity(w.event);
      if (callId) trace.calls.set(callId, w.event.span_id);
      const node = trace.spans.get(w.event.span_id);
      if (node && (w.event.kind === 'llm_call' || w.event.kind === 'embedding'))
        node.call = { id: callId, event: w.event, forwarded: false };
      trace.waiting.push(waiting);
      this.queue.push({ trace, waiting });
      this.live++;
    }
    // Restored entries may be older than what is queued already: sorted into arrival order once, at the next advance.
    this.unsorted = true;
    if (snapshot.lastMs > this.streamMs) this.streamMs = snapshot.lastMs;
  }

  /** Forgets every trace: the partition left this member, whose new owner restores them from their checkpoints. */
  clear(): void {
    this.traces.clear();
    this.recent.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    this.perTenant.clear();
    this.dirty.clear();
    this.live = 0;
  }

  private trace(key: string, tenant: string, out: Resolved[]): Trace {
    let trace = this.traces.get(key);
    if (!trace) {
      this.makeRoom(tenant, out);
      trace = { key, tenant, spans: new Map(), waiting: [], calls: new Map(), lastMs: this.streamMs };
      this.traces.set(key, trace);
    }
    trace.lastMs = Math.max(trace.lastMs, this.streamMs);
    this.recent.touch(trace);
    let ofTenant = this.perTenant.get(tenant);
    if (!ofTenant) this.perTenant.set(tenant, (ofTenant = new Recency()));
    ofTenant.touch(trace);
    return trace;
  }

  /** Past a bound, the least recently seen trace (of the tenant, past its share) is resolved and dropped. */
  private makeRoom(tenant: string, out: Resolved[]): void {
    const ofTenant = this.perTenant.get(tenant);
    if (ofTenant && ofTenant.size >= this.options.maxTracesPerTenant) {
      this.drop(ofTenant.oldest()!, out, 'evicted');
      return;
    }
    const oldest = this.traces.size >= this.options.maxTraces ? this.recent.oldest() : undefined;
    if (oldest) this.drop(oldest, out, 'evicted');
  }

  private drop(trace: Trace, out: Resolved[], reason: CutReason = 'timeout'): void {
    for (const waiting of trace.waiting) if (!waiting.resolved) this.cut(trace, waiting, reason, out);
    this.traces.delete(trace.key);
    this.recent.remove(trace);
    const ofTenant = this.perTenant.get(trace.tenant)!;
    ofTenant.remove(trace);
    if (ofTenant.size === 0) this.perTenant.delete(trace.tenant);
  }

  /** Resolves a waiting event before its walk ended: with the agent if one is known by now. */
  private cut(trace: Trace, waiting: Waiting, reason: CutReason, out: Resolved[]): void {
    const walk = this.walkAll(trace, waiting.from);
    if (!('agent' in walk) && !('root' in walk)) this.counts.cut[reason]++;
    this.finish(trace, waiting, 'agent' in walk ? walk.agent : null, out);
  }

  /** Tries the walk of a new waiting event: it leaves now if it can, else waits. */
  private settle(trace: Trace, waiting: Waiting, out: Resolved[]): void {
    const walk = this.walkAll(trace, waiting.from);
    if ('missing' in walk) {
      this.live++;
      trace.waiting.push(waiting);
      this.queue.push({ trace, waiting });
      this.dirty.add(trace.key);
      return;
    }
    if ('cycle' in walk) this.counts.cut.cycle++;
    waiting.resolved = true;
    this.emitResolved(trace, waiting, 'agent' in walk ? walk.agent : null, out);
  }

  /** A new span may complete the walks of the trace's waiting events; those that end leave, in arrival order. */
  private reconsider(trace: Trace, out: Resolved[]): void {
    let changed = false;
    for (const waiting of trace.waiting) {
      if (waiting.resolved) continue;
      const walk = this.walkAll(trace, waiting.from);
      if ('missing' in walk) continue;
      if ('cycle' in walk) this.counts.cut.cycle++;
      this.finish(trace, waiting, 'agent' in walk ? walk.agent : null, out);
      changed = true;
    }
    if (changed) trace.waiting = trace.waiting.filter((w) => !w.resolved);
  }

  private finish(trace: Trace, waiting: Waiting, agent: AgentContext | null, out: Resolved[]): void {
    waiting.resolved = true;
    this.live--;
    this.dirty.add(trace.key);
    this.emitResolved(trace, waiting, agent, out);
  }

  private emitResolved(trace: Trace, waiting: Waiting, agent: AgentContext | null, out: Resolved[]): void {
    const node = trace.spans.get(waiting.event.span_id);
    if (node) {
      if (agent) node.agent = agent;
      if (node.call) node.call.forwarded = true;
    }
    this.emit(waiting.event, agent, out);
  }

  private emit(event: AiEvent, agent: AgentContext | 'own' | null, out: Resolved[]): void {
    if (agent === 'own') {
      this.counts.own++;
      out.push({ event, attribution: 'own' });
    } else if (agent) {
      this.counts.inherited++;
      out.push({ event: inherit(event, agent), attribution: 'inherited' });
    } else {
      this.counts.none++;
      out.push({ event, attribution: 'none' });
    }
  }

  /** The walk from several spans (a merged call's): an agent on any path wins; else missing, then cycle, then root. */
  private walkAll(trace: Trace, from: string[]): Walk {
    let result: Walk = { root: true };
    for (const span of from) {
      const walk = this.walk(trace, [span], trace.spans.get(span)?.parent ?? null);
      if ('agent' in walk) return walk;
      if ('missing' in walk || ('cycle' in walk && 'root' in result)) result = walk;
    }
    return result;
  }

  /** Up the parent ids from `parent` to the nearest agent, a root, or the first span not seen yet. */
  private walk(trace: Trace, seen: string[], parent: string | null): Walk {
    const visited = new Set(seen);
    let id = parent;
    while (id !== null) {
      if (visited.has(id)) return { cycle: true };
      visited.add(id);
      const node = trace.spans.get(id);
      if (!node) return { missing: id };
      if (node.agent) return { agent: node.agent };
      id = node.parent;
    }
    return { root: true };
  }

  /** The earlier report of the same model call in this trace, if any. */
  private twinOf(trace: Trace, event: AiEvent, callId: string | null): SpanNode | undefined {
    if (event.kind !== 'llm_call' && event.kind !== 'embedding') return undefined;
    if (callId) {
      const span = trace.calls.get(callId);
      return span === undefined ? undefined : trace.spans.get(span);
    }
    // No response id: only a parent and child reporting the same call are twins (two real calls never nest).
    const parent = event.parent_span_id === null ? undefined : trace.spans.get(event.parent_span_id);
    if (parent?.call && parent.call.id === null && isTwinCall(parent.call.event, event)) return parent;
    for (const waiting of trace.waiting) {
      const child = waiting.event;
      if (waiting.resolved || child.parent_span_id !== event.span_id) continue;
      const node = trace.spans.get(child.span_id);
      if (node?.call && node.call.id === null && isTwinCall(child, event)) return node;
    }
    return undefined;
  }

  /**
   * Merges a second report of a call into the first. Still waiting: one event with
   * the richer fields of both waits on (or leaves, if the second names its agent).
   * Already gone: the second adds nothing that can still reach the first's rows.
   */
  private merge(trace: Trace, twin: SpanNode, event: AiEvent, callId: string | null, out: Resolved[]): void {
    if (!trace.spans.has(event.span_id) && trace.spans.size < this.options.maxSpansPerTrace)
      trace.spans.set(event.span_id, { parent: event.parent_span_id });
    const call = twin.call!;
    if (call.forwarded) return;
    const waiting = trace.waiting.find((w) => !w.resolved && w.event === call.event)!;
    const merged = mergeCalls(call.event, event);
    call.event = merged;
    waiting.event = merged;
    waiting.from.push(event.span_id);
    if (callId) trace.calls.set(callId, call.event.span_id);
    this.dirty.add(trace.key);
    if (merged.agent !== null) {
      // The second report names the agent: the call is the agent's own.
      waiting.resolved = true;
      this.live--;
      call.forwarded = true;
      twin.agent = contextOf(merged);
      trace.waiting = trace.waiting.filter((w) => !w.resolved);
      this.emit(merged, 'own', out);
    }
    this.reconsider(trace, out);
  }

  private compactQueue(): void {
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}

/** A trace's checkpointed state: its spans' structure and the events still waiting. */
export interface TraceSnapshot {
  tenant: string;
  lastMs: number;
  spans: { id: string; parent: string | null; agent: AgentContext | null }[];
  waiting: { event: AiEvent; arrivedMs: number; from: string[] }[];
}

function contextOf(event: AiEvent): AgentContext {
  return {
    agent: event.agent!,
    user: event.user,
    conversation_id: event.conversation_id,
    identity: event.identity,
    scopes: event.scopes,
  };
}

/** The event with its agent's context where its own is absent. */
function inherit(event: AiEvent, agent: AgentContext): AiEvent {
  const identity = event.identity ?? agent.identity;
  return {
    ...event,
    agent: agent.agent,
    user: event.user ?? agent.user,
    conversation_id: event.conversation_id ?? agent.conversation_id,
    identity,
    // Scopes belong to the identity: inherited with it.
    scopes: event.identity === null && event.scopes.length === 0 ? agent.scopes : event.scopes,
  };
}

import { sampleEvent, type AiEvent } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { TraceAssembler, type AssemblerOptions, type Resolved } from './assembler.ts';
import { decodeTraceSnapshot, encodeTraceSnapshot } from './snapshot.ts';
import { createEventCodec } from '@aispm/core';

const KEY = 'acme/t1';
const OPTIONS: AssemblerOptions = { waitMs: 90_000, maxSpansPerTrace: 50, maxTraces: 100, maxTracesPerTenant: 25 };

/** A span of trace t1: an agent's when `agent` is given, else a model call of no agent. */
function span(id: string, parent: string | null, over: Partial<AiEvent> = {}): AiEvent {
  return sampleEvent({
    trace_id: 't1',
    span_id: id,
    event_id: `t1${id}`,
    parent_span_id: parent,
    kind: 'llm_call',
    agent: null,
    user: null,
    identity: null,
    scopes: [],
    conversation_id: null,
    attributes: {},
    attribution: null,
    ...over,
  });
}

const agentSpan = (id: string, parent: string | null = null): AiEvent =>
  span(id, parent, {
    kind: 'agent_action',
    agent: 'billing-bot',
    user: 'u-1',
    identity: 'svc@acme',
    scopes: ['invoices:read'],
    conversation_id: 'c-1',
  });

const summary = (out: Resolved[]): string[] => out.map((r) => `${r.event.span_id}:${r.attribution}:${r.event.agent}`);

describe('TraceAssembler', () => {
  it('lets children wait for an agent span that ends (and arrives) after them, through spans that are no AI action', () => {
    const a = new TraceAssembler(OPTIONS);
    a.advance(1_000);
    expect(a.addEvent(KEY, span('llm', 'chain'))).toEqual([]);
    expect(a.addEvent(KEY, span('tool', 'chain', { kind: 'tool_call', tool_name: 'lookup' }))).toEqual([]);
    expect(a.addLink(KEY, 'acme', 'chain', 'agent')).toEqual([]);
    expect(a.waitingEvents).toBe(2);
    const out = a.addEvent(KEY, agentSpan('agent', 'http'));
    expect(summary(out)).toEqual(['agent:own:billing-bot', 'llm:inherited:billing-bot', 'tool:inherited:billing-bot']);
    expect(out[1]!.event).toMatchObject({ user: 'u-1', identity: 'svc@acme', conversation_id: 'c-1' });
    expect(out[1]!.event.scopes).toEqual(['invoices:read']);
    expect(a.waitingEvents).toBe(0);
  });

  it('keeps a child’s own user and identity; inherits only what it lacks', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addEvent(KEY, span('llm', 'agent', { user: 'u-9', identity: 'svc-other', scopes: ['x'] }));
    const [, child] = a.addEvent(KEY, agentSpan('agent'));
    expect(child!.event).toMatchObject({ agent: 'billing-bot', user: 'u-9', identity: 'svc-other', scopes: ['x'] });
  });

  it('a late child of an agent already gone is attributed at once', () => {
    const a = new TraceAssembler(OPTIONS);
    expect(summary(a.addEvent(KEY, agentSpan('agent')))).toEqual(['agent:own:billing-bot']);
    expect(summary(a.addEvent(KEY, span('llm', 'agent')))).toEqual(['llm:inherited:billing-bot']);
  });

  it('the nearest agent ancestor wins over an outer one', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addEvent(KEY, span('llm', 'inner'));
    a.addEvent(KEY, { ...agentSpan('outer'), agent: 'planner' });
    const out = a.addEvent(KEY, agentSpan('inner', 'outer'));
    expect(summary(out)).toEqual(['inner:own:billing-bot', 'llm:inherited:billing-bot']);
  });

  it('a root span with no agent leaves at once as none; its waiting children leave with it', () => {
    const a = new TraceAssembler(OPTIONS);
    expect(a.addEvent(KEY, span('child', 'root', { kind: 'tool_call' }))).toEqual([]);
    const out = a.addLink(KEY, 'acme', 'root', null);
    expect(summary(out)).toEqual(['child:none:null']);
    expect(summary(a.addEvent(KEY, span('solo', null)))).toEqual(['solo:none:null']);
  });

  it('after the wait (stream time), a span whose parent never came leaves with what is known, counted', () => {
    const a = new TraceAssembler(OPTIONS);
    a.advance(0);
    a.addEvent(KEY, span('orphan', 'missing'));
    expect(a.advance(89_999)).toEqual([]);
    expect(summary(a.advance(90_000))).toEqual(['orphan:none:null']);
    expect(a.counts.cut.timeout).toBe(1);
    expect(a.heldTraces).toBe(0);
  });

  it('resolves a cycle in parent ids without waiting, counted', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addLink(KEY, 'acme', 'x', 'y');
    a.addLink(KEY, 'acme', 'y', 'x');
    expect(summary(a.addEvent(KEY, span('llm', 'x')))).toEqual(['llm:none:null']);
    expect(a.counts.cut.cycle).toBe(1);
  });

  it('bounds spans per trace: past the bound, a span leaves at once with what is known', () => {
    const a = new TraceAssembler({ ...OPTIONS, maxSpansPerTrace: 10 });
    for (let i = 0; i < 10; i++) a.addLink(KEY, 'acme', `s${i}`, `s${i + 1}`);
    expect(summary(a.addEvent(KEY, span('late', 's0')))).toEqual(['late:none:null']);
    expect(a.counts.cut.trace_too_large).toBe(1);
  });

  it('bounds traces held, per tenant too: the least recently seen is let go with what is known', () => {
    const a = new TraceAssembler({ ...OPTIONS, maxTraces: 8, maxTracesPerTenant: 2 });
    a.addEvent('acme/1', { ...span('a', 'p'), trace_id: '1' });
    a.addEvent('acme/2', { ...span('b', 'p'), trace_id: '2' });
    const out = a.addEvent('acme/3', { ...span('c', 'p'), trace_id: '3' });
    expect(summary(out)).toEqual(['a:none:null']);
    expect(a.counts.cut.evicted).toBe(1);
    // Another tenant is not pushed out by acme.
    a.addEvent('globex/9', { ...span('g', 'p'), tenant: 'globex', trace_id: '9' });
    expect(a.heldTraces).toBe(3);
  });

  it('merges two reports of one call (same provider and response id) into one event with the richer fields', () => {
    const a = new TraceAssembler(OPTIONS);
    const sdk = span('sdk', 'oi', {
      attributes: { 'gen_ai.response.id': 'msg_1' },
      provider: 'anthropic',
      destination: 'api.anthropic.com',
      content: { policy: 'redacted', prompt: null, completion: null, tool_arguments: null, tool_result: null },
    });
    const oi = span('oi', 'agent', {
      attributes: { 'gen_ai.response.id': 'msg_1', 'llm.system': 'anthropic' },
      provider: 'anthropic',
      destination: null,
    });
    expect(a.addEvent(KEY, sdk)).toEqual([]);
    expect(a.addEvent(KEY, oi)).toEqual([]);
    expect(a.counts.merged).toBe(1);
    const out = a.addEvent(KEY, agentSpan('agent'));
    expect(summary(out)).toEqual(['agent:own:billing-bot', 'oi:inherited:billing-bot']);
    const merged = out[1]!.event;
    expect(merged.destination).toBe('api.anthropic.com');
    expect(merged.content.prompt).toBe(sampleEvent().content.prompt);
    expect(merged.attributes['aispm.merged.span_id']).toBe('sdk');
  });

  it('drops a second report of a call already sent on, counted', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addEvent(KEY, agentSpan('agent'));
    const first = span('one', 'agent', { attributes: { 'gen_ai.response.id': 'r' }, provider: 'openai' });
    expect(a.addEvent(KEY, first)).toHaveLength(1);
    expect(
      a.addEvent(KEY, span('two', 'one', { attributes: { 'gen_ai.response.id': 'r' }, provider: 'openai' })),
    ).toEqual([]);
    expect(a.counts.merged).toBe(1);
  });

  it('never merges two calls with different response ids, or sibling calls without one', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addEvent(KEY, span('one', 'agent', { attributes: { 'gen_ai.response.id': 'r1' }, provider: 'openai' }));
    a.addEvent(KEY, span('two', 'agent', { attributes: { 'gen_ai.response.id': 'r2' }, provider: 'openai' }));
    a.addEvent(KEY, span('three', 'agent'));
    a.addEvent(KEY, span('four', 'agent'));
    expect(summary(a.addEvent(KEY, agentSpan('agent')))).toHaveLength(5);
    expect(a.counts.merged).toBe(0);
  });

  it('merges a parent and child reporting one call without a response id, not ones whose tokens differ', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addEvent(KEY, span('child', 'parent', { input_tokens: 10, output_tokens: 5 }));
    a.addEvent(KEY, span('parent', null, { input_tokens: 10, output_tokens: 5 }));
    expect(a.counts.merged).toBe(1);
    const b = new TraceAssembler(OPTIONS);
    b.addEvent(KEY, span('child', 'parent', { input_tokens: 10 }));
    b.addEvent(KEY, span('parent', null, { input_tokens: 11 }));
    expect(b.counts.merged).toBe(0);
  });

  it('restores waiting events from a snapshot and goes on as if never interrupted', () => {
    const codec = createEventCodec();
    const run = (restart: boolean): string[] => {
      let a = new TraceAssembler(OPTIONS);
      a.advance(5);
      a.addEvent(KEY, span('llm', 'chain'));
      a.addLink(KEY, 'acme', 'chain', 'agent');
      if (restart) {
        const bytes = encodeTraceSnapshot(a.snapshotOf(KEY)!, codec);
        a = new TraceAssembler(OPTIONS);
        a.restore(KEY, decodeTraceSnapshot(bytes, codec));
      }
      return summary(a.addEvent(KEY, agentSpan('agent')));
    };
    expect(run(true)).toEqual(run(false));
    expect(run(true)).toEqual(['agent:own:billing-bot', 'llm:inherited:billing-bot']);
  });

  it('marks traces whose waiting events changed for a checkpoint, and has none for a trace with nothing waiting', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addEvent(KEY, agentSpan('solo'));
    expect(a.takeDirty()).toEqual([]);
    a.addEvent(KEY, span('llm', 'missing'));
    expect(a.takeDirty()).toEqual([KEY]);
    expect(a.snapshotOf(KEY)?.waiting).toHaveLength(1);
    a.addLink(KEY, 'acme', 'missing', 'solo');
    expect(a.takeDirty()).toEqual([KEY]);
    expect(a.snapshotOf(KEY)).toBeNull();
  });
});

describe('TraceAssembler stream time', () => {
  it('a trace’s first event waits from the stream time it arrived at, even in a fresh assembler', () => {
    const a = new TraceAssembler(OPTIONS);
    a.advance(1_000_000);
    a.addEvent(KEY, span('llm', 'step'));
    expect(a.advance(1_000_001)).toEqual([]);
    a.addLink(KEY, 'acme', 'step', 'agent');
    expect(summary(a.addEvent(KEY, agentSpan('agent')))).toEqual([
      'agent:own:billing-bot',
      'llm:inherited:billing-bot',
    ]);
  });
});

describe('TraceAssembler agent links', () => {
  it('an agent span sent on directly hands its agent down through its link', () => {
    const a = new TraceAssembler(OPTIONS);
    a.addEvent(KEY, span('llm', 'agent'));
    const ctx = { agent: 'router', user: 'u-7', conversation_id: null, identity: null, scopes: [] };
    const out = a.addLink(KEY, 'acme', 'agent', null, ctx);
    expect(summary(out)).toEqual(['llm:inherited:router']);
    expect(out[0]!.event.user).toBe('u-7');
    // A late child still finds it.
    expect(summary(a.addEvent(KEY, span('tool', 'agent', { kind: 'tool_call' })))).toEqual(['tool:inherited:router']);
  });
});

import { describe, expect, it } from 'vitest';
import { mergeInBatch, mergeCalls } from './merge.ts';
import { sampleEvent } from './sample.ts';
import type { AiEvent } from './types.ts';

const call = (trace: string, span: string, over: Partial<AiEvent> = {}): AiEvent =>
  sampleEvent({
    kind: 'llm_call',
    trace_id: trace,
    span_id: span,
    event_id: `${trace}${span}`,
    provider: 'anthropic',
    attributes: { 'gen_ai.response.id': 'msg_1' },
    ...over,
  });

describe('mergeCalls', () => {
  it('keeps the richer report as the base and fills what it lacks from the other', () => {
    const rich = call('t', 'a', { destination: null, agent: 'bot' });
    const poor = call('t', 'b', {
      destination: 'api.anthropic.com',
      agent: null,
      user: null,
      identity: null,
      content: { policy: 'redacted', prompt: null, completion: null, tool_arguments: null, tool_result: null },
    });
    const merged = mergeCalls(poor, rich);
    expect(merged.span_id).toBe('a');
    expect(merged.destination).toBe('api.anthropic.com');
    expect(merged.attributes['aispm.merged.span_id']).toBe('b');
  });
});

describe('mergeInBatch', () => {
  it('merges one call reported in two traces into the report nested in a run', () => {
    const sdk = call('t-sdk', 's1', { parent_span_id: null, destination: 'api.anthropic.com' });
    const nested = call('t-run', 's2', { parent_span_id: 'step', destination: null });
    const { kept, merged } = mergeInBatch([sdk, nested]);
    expect(merged).toEqual([sdk]);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ trace_id: 't-run', span_id: 's2', parent_span_id: 'step' });
    expect(kept[0]!.destination).toBe('api.anthropic.com');
  });

  it('merges twins in one trace into the outer report, the parent of the other', () => {
    const sdk = call('t', 'inner', { parent_span_id: 'outer', destination: 'api.anthropic.com' });
    const instrumentation = call('t', 'outer', { parent_span_id: 'step', destination: null });
    const { kept, merged } = mergeInBatch([sdk, instrumentation]);
    expect(merged.map((e) => e.span_id)).toEqual(['inner']);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ span_id: 'outer', parent_span_id: 'step', destination: 'api.anthropic.com' });
  });

  it('never merges other response ids, providers or tenants, or calls without a response id', () => {
    const a = call('t', 'a');
    const otherId = call('u', 'c', { attributes: { 'gen_ai.response.id': 'msg_2' } });
    const otherProvider = call('v', 'd', { provider: 'openai' });
    const otherTenant = call('w', 'e', { tenant: 'globex' });
    const noId = call('x', 'f', { attributes: {} });
    const noId2 = call('y', 'g', { attributes: {} });
    const all = [a, otherId, otherProvider, otherTenant, noId, noId2];
    expect(mergeInBatch(all)).toEqual({ kept: all, merged: [] });
  });
});

import { describe, expect, it } from 'vitest';
import { mergeAcrossTraces, mergeCalls } from './merge.ts';
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

describe('mergeAcrossTraces', () => {
  it('merges one call reported in two traces into the report nested in a run', () => {
    const sdk = call('t-sdk', 's1', { parent_span_id: null, destination: 'api.anthropic.com' });
    const nested = call('t-run', 's2', { parent_span_id: 'step', destination: null });
    const { kept, merged } = mergeAcrossTraces([sdk, nested]);
    expect(merged).toEqual([sdk]);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ trace_id: 't-run', span_id: 's2', parent_span_id: 'step' });
    expect(kept[0]!.destination).toBe('api.anthropic.com');
  });

  it('leaves twins in one trace to trace assembly, and never merges other response ids, providers or tenants', () => {
    const a = call('t', 'a');
    const sameTrace = call('t', 'b', { parent_span_id: 'a' });
    const otherId = call('u', 'c', { attributes: { 'gen_ai.response.id': 'msg_2' } });
    const otherProvider = call('v', 'd', { provider: 'openai' });
    const otherTenant = call('w', 'e', { tenant: 'globex' });
    const noId = call('x', 'f', { attributes: {} });
    const noId2 = call('y', 'g', { attributes: {} });
    const all = [a, sameTrace, otherId, otherProvider, otherTenant, noId, noId2];
    expect(mergeAcrossTraces(all)).toEqual({ kept: all, merged: [] });
  });
});

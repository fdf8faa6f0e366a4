import { describe, expect, it } from 'vitest';
import { sampleEvent } from './sample.ts';
import { invalidReason } from './validate.ts';

const nowMs = sampleEvent().time / 1000 + 60_000;

describe('invalidReason', () => {
  it('accepts a plausible event', () => {
    expect(invalidReason(sampleEvent(), nowMs)).toBeNull();
  });

  it.each([
    [{ input_tokens: -5 }, 'input_tokens must be a non-negative integer, got -5'],
    [{ output_tokens: 2.5 }, 'output_tokens must be a non-negative integer, got 2.5'],
    [{ output_tokens: 50_000_000 }, 'output_tokens above 10000000'],
    [{ latency_ms: -1 }, 'latency_ms must be >= 0, got -1'],
    [{ latency_ms: Number.NaN }, 'latency_ms must be >= 0, got NaN'],
    [{ time: (nowMs + 3_600_000) * 1000 }, 'time is more than 15 minutes in the future'],
    [{ time: (nowMs - 31 * 86_400_000) * 1000 }, 'time is more than 30 days in the past'],
    [{ tenant: '' }, 'tenant is empty'],
    [{ app: 'x'.repeat(300) }, 'app is longer than 256 characters'],
  ])('rejects %o with a reason', (override, reason) => {
    expect(invalidReason(sampleEvent(override), nowMs)).toBe(reason);
  });
});

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { captureContent, type CaptureOptions, type RawContent } from './capture.ts';

const RAW: RawContent = {
  prompt: 'Mail jane@example.com the key AKIAIOSFODNN7EXAMPLE',
  completion: 'Done.',
  tool_arguments: '{"to":"jane@example.com"}',
  tool_result: null,
};

const KEY = 'k'.repeat(32);
const options = (policy: CaptureOptions['policy'], more: Partial<CaptureOptions> = {}): CaptureOptions => ({
  policy,
  hmacKey: KEY,
  maxContentBytes: 8192,
  ...more,
});

const hmac = (key: string, text: string) => createHmac('sha256', key).update(text).digest('hex');

describe('captureContent', () => {
  it('none keeps nothing', () => {
    expect(captureContent(RAW, options('none'))).toEqual({
      policy: 'none',
      prompt: null,
      completion: null,
      tool_arguments: null,
      tool_result: null,
    });
  });

  it('hash keeps a keyed HMAC-SHA256 of each whole text, which changes with the key', () => {
    const hashed = captureContent(RAW, options('hash', { maxContentBytes: 4 }));
    expect(hashed).toEqual({
      policy: 'hash',
      prompt: hmac(KEY, RAW.prompt!),
      completion: hmac(KEY, 'Done.'),
      tool_arguments: hmac(KEY, RAW.tool_arguments!),
      tool_result: null,
    });
    const other = captureContent(RAW, options('hash', { hmacKey: 'another key of 16+' }));
    expect(other.prompt).not.toBe(hashed.prompt);
    expect(other.prompt).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hash without a key keeps nothing and says so', () => {
    expect(captureContent(RAW, options('hash', { hmacKey: null }))).toEqual({
      policy: 'none',
      prompt: null,
      completion: null,
      tool_arguments: null,
      tool_result: null,
    });
  });

  it('redacted masks PII and secrets', () => {
    expect(captureContent(RAW, options('redacted'))).toEqual({
      policy: 'redacted',
      prompt: 'Mail [EMAIL] the key [SECRET:aws_access_key]',
      completion: 'Done.',
      tool_arguments: '{"to":"[EMAIL]"}',
      tool_result: null,
    });
  });

  it('full keeps the texts as they are', () => {
    expect(captureContent(RAW, options('full'))).toEqual({ policy: 'full', ...RAW });
  });

  it('cuts every kept text to maxContentBytes, after redaction', () => {
    const redacted = captureContent(RAW, options('redacted', { maxContentBytes: 12 }));
    expect(redacted.prompt).toBe('Mail [EMAIL]');
    const full = captureContent({ ...RAW, completion: 'ééééé' }, options('full', { maxContentBytes: 5 }));
    expect(full.prompt).toBe('Mail ');
    expect(full.completion).toBe('éé');
  });

  it('replaces lone surrogates, which UTF-8 cannot carry', () => {
    expect(captureContent({ ...RAW, completion: 'a\ud800b' }, options('full')).completion).toBe('a\ufffdb');
  });
});

describe('a policy the sender declares it applied', () => {
  const options = { policy: 'redacted' as const, hmacKey: 'k'.repeat(32), maxContentBytes: 8192 };
  const hashed = 'a'.repeat(64);

  it('keeps texts declared hashed when they are HMAC hex, so a hash is not hashed again', () => {
    const raw = { prompt: hashed, completion: null, tool_arguments: null, tool_result: null };
    expect(captureContent(raw, { ...options, policy: 'hash' }, 'hash')).toEqual({ policy: 'hash', ...raw });
    expect(captureContent(raw, options, 'hash')).toEqual({ policy: 'hash', ...raw });
  });

  it('does not trust the declaration to loosen anything', () => {
    const raw = { prompt: 'mail bob@example.com', completion: null, tool_arguments: null, tool_result: null };
    expect(captureContent(raw, options, 'hash').prompt).toBe('mail [EMAIL]');
    expect(captureContent(raw, options, 'full').prompt).toBe('mail [EMAIL]');
    const hashedRaw = { ...raw, prompt: hashed };
    expect(captureContent(hashedRaw, { ...options, policy: 'none' }, 'hash')).toEqual({
      policy: 'none',
      prompt: null,
      completion: null,
      tool_arguments: null,
      tool_result: null,
    });
  });
});

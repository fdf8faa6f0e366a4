import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkajsLogCreator } from './kafka-log.ts';

describe('kafkajsLogCreator', () => {
  function logged(namespace: string, level: kafkajs.logLevel, log: { message: string } & Record<string, unknown>) {
    const lines: string[] = [];
    const write = kafkajsLogCreator((message, lvl) => lines.push(`${lvl} ${message}`))(kafkajs.logLevel.WARN);
    write({ namespace, level, label: 'X', log: { timestamp: '2026-01-01T00:00:00Z', logger: 'kafkajs', ...log } });
    return lines;
  }

  it('passes warnings and errors on as one line with their details, without timestamp or stack', () => {
    expect(logged('Consumer', kafkajs.logLevel.WARN, { message: 'Restarting', groupId: 'g', stack: 'at …' })).toEqual([
      'warn kafkajs Consumer: Restarting {"groupId":"g"}',
    ]);
    expect(logged('Connection', kafkajs.logLevel.ERROR, { message: 'Connection error: connect ECONNREFUSED' })).toEqual(
      ['error kafkajs Connection: Connection error: connect ECONNREFUSED'],
    );
  });

  it('leaves out broker error responses, which kafkajs retries or throws to the caller', () => {
    expect(
      logged('Connection', kafkajs.logLevel.ERROR, {
        message: 'Response GroupCoordinator(key: 10, version: 2)',
        error: 'The group coordinator is not available',
      }),
    ).toEqual([]);
  });
});

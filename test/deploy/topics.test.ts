import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kafkajs } from '@aispm/bus';
import { CONFIG_KEYS } from '@aispm/core';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { REPO } from '../setup/python.ts';

/** `aispm topics create` makes every topic with its partitions, compaction and retention (issue 24). */
const run = promisify(execFile);
const brokers = inject('kafkaBrokers');
const prefix = `topics-${randomUUID().slice(0, 8)}`;
const topicKeys = Object.values(CONFIG_KEYS as Record<string, { env: string; default: unknown }>).filter((k) =>
  k.env.startsWith('AISPM_TOPIC_'),
);
const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
afterAll(() => admin.disconnect());

describe(`aispm topics create on ${inject('kafkaLabel')}`, () => {
  it('creates each topic once, keyed ones with the partitions asked, changelogs compacted, streams with retention', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: brokers.join(',') };
    for (const key of topicKeys) env[key.env] = `${prefix}.${String(key.default)}`;
    const cli = [join(REPO, 'services/cli/src/main.ts'), 'topics', 'create', '--partitions', '3'];
    const { stdout } = await run(process.execPath, cli, { env, timeout: 120_000 });
    expect(stdout).toContain(`${topicKeys.length} topics on`);
    // A second run leaves them as they are.
    await run(process.execPath, [...cli.slice(0, -1), '5'], { env, timeout: 120_000 });

    await admin.connect();
    const names = topicKeys.map((k) => env[k.env]!);
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    const partitions = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name })),
    });
    const configOf = (name: string, entry: string): string | undefined =>
      resources.find((r) => r.resourceName === name)?.configEntries.find((e) => e.configName === entry)?.configValue;

    expect(Object.keys(partitions).sort()).toEqual([...names].sort());
    for (const name of names) {
      const changelog = /state/.test(name);
      const deadLetter = /dlq/.test(name);
      expect(partitions[name], name).toBe(deadLetter ? 1 : 3);
      expect(configOf(name, 'cleanup.policy'), name).toBe(changelog ? 'compact' : 'delete');
      if (!changelog) expect(Number(configOf(name, 'retention.ms')), name).toBeGreaterThanOrEqual(7 * 86_400_000);
    }
  }, 180_000);

  it('prints the layout without a broker, and says what it expects on a wrong command line', async () => {
    const cli = join(REPO, 'services/cli/src/main.ts');
    const env = { ...process.env, KAFKA_BROKERS: '127.0.0.1:1' };
    const { stdout } = await run(process.execPath, [cli, 'topics', 'create', '--print'], { env });
    expect(stdout).toMatch(/aispm\.events\.v1 +partitions +\d+ +retention 7 days/);
    expect(stdout).toMatch(/aispm\.state\.v1 +partitions +\d+ +compacted/);
    const refused = await run(process.execPath, [cli, 'topics', 'delete'], { env }).then(
      () => null,
      (err: Error & { code?: number; stderr?: string }) => err,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toContain('expects "create"');
  });
});

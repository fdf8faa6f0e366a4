import { parseArgs } from 'node:util';
import { KafkaBus } from '@aispm/bus';
import { loadConfig, type Logger } from '@aispm/core';
import { pipelineTopics } from '../topics.ts';
import { positiveNumber, UsageError } from '../usage.ts';

export const TOPICS_HELP = `Usage: aispm topics create [options]

Creates aispm's Kafka topics on KAFKA_BROKERS with their partition counts,
compaction and retention: the streams keep a week, findings and dead letters a
month, the stages' changelogs are compacted. A topic that exists is left as it is
(Kafka never lowers a partition count). \`aispm up\` creates missing topics too; run
this first in a cluster, where the processors should not decide the layout.

Options:
  --partitions <n>  partitions of each keyed topic (default AISPM_PARTITIONS);
                    the processors scale to at most this many replicas
  --print           list the topics and their settings, connect to nothing
  -h, --help        show this help`;

export async function topicsCommand(argv: string[], log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      partitions: { type: 'string' },
      print: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${TOPICS_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'create') {
    throw new UsageError(`aispm topics expects "create", got "${positionals.join(' ')}"`);
  }
  const config = loadConfig(process.env);
  const partitions =
    values.partitions === undefined ? config.partitions : positiveNumber('--partitions', values.partitions);
  if (!Number.isInteger(partitions)) throw new UsageError(`--partitions expects a whole number, got ${partitions}`);
  const topics = pipelineTopics({ ...config, partitions });
  const lines = topics.map(
    (t) =>
      `${t.topic.padEnd(28)} partitions ${String(t.partitions).padStart(3)}  ${
        t.compacted ? 'compacted' : `retention ${(t.retentionMs ?? 0) / 86_400_000} days`
      }`,
  );
  if (values.print) {
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
  const bus = new KafkaBus({
    brokers: config.kafka.brokers,
    clientId: config.kafka.clientId,
    log: (message, level) => log[level](message),
  });
  try {
    await bus.ensureTopics(topics);
  } finally {
    await bus.close();
  }
  process.stdout.write(`${lines.join('\n')}\n${topics.length} topics on ${config.kafka.brokers.join(',')}\n`);
  return 0;
}

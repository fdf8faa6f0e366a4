import type { Config } from '@aispm/core';
import type { TopicSpec } from '@aispm/bus';

const DAY_MS = 86_400_000;

/**
 * How each topic is held. A Record over Config['topics'], so a new topic does not
 * compile until it says how many partitions and how long Kafka keeps it.
 * Changelogs are compacted (the newest state per key, kept for good); streams keep
 * a week, enough to replay a stage; findings and dead letters a month, for the
 * alerter's replay and for whoever inspects what was refused.
 */
const HOLDING: Record<keyof Config['topics'], { keyed: boolean; compacted?: boolean; retentionDays?: number }> = {
  events: { keyed: true, retentionDays: 7 },
  attributed: { keyed: true, retentionDays: 7 },
  traceState: { keyed: true, compacted: true },
  scores: { keyed: true, retentionDays: 7 },
  findings: { keyed: true, retentionDays: 30 },
  deadLetter: { keyed: false, retentionDays: 30 },
  state: { keyed: true, compacted: true },
  entities: { keyed: true, retentionDays: 7 },
  entityState: { keyed: true, compacted: true },
  genaiLogs: { keyed: true, retentionDays: 7 },
  genaiMetrics: { keyed: true, retentionDays: 7 },
};

/** Every topic the pipeline uses, with its partitions (AISPM_PARTITIONS for keyed ones) and retention. */
export function pipelineTopics(config: Config): TopicSpec[] {
  const pipeline = (Object.keys(HOLDING) as (keyof Config['topics'])[]).map((role): TopicSpec => {
    const { keyed, compacted, retentionDays } = HOLDING[role];
    return {
      topic: config.topics[role],
      partitions: keyed ? config.partitions : 1,
      ...(compacted ? { compacted } : {}),
      ...(retentionDays === undefined ? {} : { retentionMs: retentionDays * DAY_MS }),
    };
  });
  // The alerter's dead letters: what could not be delivered, kept a month like the others.
  return [...pipeline, { topic: config.alerter.dlqTopic, partitions: 1, retentionMs: 30 * DAY_MS }];
}

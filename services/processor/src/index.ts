// @aispm/processor: stream analytics over the events topic.

export { Processor, type ProcessorOptions, type ProcessorStats } from './processor.ts';
export { SCORE_MODEL } from './scorer.ts';
export { createScoreCodec, type AnomalyScoreRecord } from './score/score-codec.ts';
export { DEFAULT_BASELINE_OPTIONS, type BaselineOptions } from './baseline/agent.ts';

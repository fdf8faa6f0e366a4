import { eventKey, type AiEvent } from '@aispm/core';
import {
  DEFAULT_BASELINE_OPTIONS,
  newAgentBaseline,
  observe,
  type AgentBaseline,
  type BaselineOptions,
} from './baseline/agent.ts';
import { scoreMeasurement, type Score } from './score/score.ts';

export const SCORE_MODEL = 'agent-rate-tokens/1';

/**
 * Per-entity baselines for the events of the partitions this process owns,
 * keyed like the partition key, so an entity's state lives where its events land.
 */
export class Scorer {
  private readonly baselines = new Map<string, AgentBaseline>();
  private readonly options: BaselineOptions;

  constructor(options: Partial<BaselineOptions> = {}) {
    this.options = { ...DEFAULT_BASELINE_OPTIONS, ...options };
  }

  get entities(): number {
    return this.baselines.size;
  }

  score(event: AiEvent): Score {
    const key = eventKey(event);
    const state = this.baselines.get(key) ?? newAgentBaseline(event.time / 1000);
    const { state: next, measurement } = observe(state, event, this.options);
    this.baselines.set(key, next);
    return scoreMeasurement(measurement, event.agent ? `agent \`${event.agent}\`` : `app \`${event.app}\``);
  }
}

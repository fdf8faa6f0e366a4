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
 * State leaves and re-enters through snapshot/restore, keyed the same way, so it
 * can be checkpointed and handed over on restart or rebalance.
 */
export class Scorer {
  private readonly baselines = new Map<string, AgentBaseline>();
  private readonly dirty = new Set<string>();
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
    this.dirty.add(key);
    return scoreMeasurement(measurement, event.agent ? `agent \`${event.agent}\`` : `app \`${event.app}\``);
  }

  /** Keys whose state changed since the last call; the caller checkpoints them. */
  takeDirty(): string[] {
    const keys = [...this.dirty];
    this.dirty.clear();
    return keys;
  }

  /** The serialized state of one key, or null when it has none. */
  snapshot(key: string): Buffer | null {
    const state = this.baselines.get(key);
    return state ? Buffer.from(JSON.stringify(state)) : null;
  }

  /** Replaces one key's state with a snapshot taken earlier (by this or another process). */
  restore(key: string, snapshot: Buffer): void {
    this.baselines.set(key, JSON.parse(snapshot.toString('utf8')) as AgentBaseline);
  }

  /** Forgets keys this process no longer owns (after a rebalance). */
  drop(keys: Iterable<string>): void {
    for (const key of keys) {
      this.baselines.delete(key);
      this.dirty.delete(key);
    }
  }
}

import { statSync } from 'node:fs';
import { describeError, silentLogger, type AiEvent, type Logger } from '@aispm/core';
import {
  createDetectionEngine,
  EMPTY_POLICY,
  loadPolicy,
  RulePackSource,
  type DetectionEngine,
} from '../detectors/index.ts';
import type { InventoryPolicy } from '../detectors/types.ts';
import type { FindingRaiser } from '../scorer.ts';

export interface BehaviourOptions {
  /** The behaviour rule pack; the shipped one when null or absent. */
  rulesFile?: string | null;
  /** Per-tenant overrides of its rules. */
  overridesFile?: string | null;
  /** The inventory policy; nothing is judged approved or not without one. */
  policyFile?: string | null;
  /** How often, at most, the files are checked for changes (default 10 s). */
  checkEverySeconds?: number;
  log?: Logger;
}

/**
 * The agents stage's behavioural detectors as the scorer's FindingRaiser: the
 * detection engine over the rule pack (reloaded when its files change) and the
 * inventory policy (likewise). Each file is checked once at start: a bad one
 * stops start-up with what to fix; a bad later version is logged and the one in
 * force stays.
 */
export function behaviourRaiser(options: BehaviourOptions = {}): FindingRaiser & { engine: DetectionEngine } {
  const log = options.log ?? silentLogger;
  const rules = new RulePackSource({
    file: options.rulesFile ?? undefined,
    overridesFile: options.overridesFile ?? undefined,
    checkEverySeconds: options.checkEverySeconds,
    logger: log,
  });
  const policy = options.policyFile ? policySource(options.policyFile, options.checkEverySeconds ?? 10, log) : null;
  const engine = createDetectionEngine({ rules, policy: policy ?? EMPTY_POLICY, logger: log });
  return {
    engine,
    // The agents stage scores whole events (stages/agents.ts), never the entities topic's narrowed ones.
    raise: ({ event, view, measurement }, memos) =>
      engine.findings({ event: event as AiEvent, view, measurement }, memos),
  };
}

/** The policy in force: re-read when the file's modification time or size changes, at most every `everyS` seconds. */
export function policySource(file: string, everyS: number, log: Logger): () => InventoryPolicy {
  let current = loadPolicy(file);
  let signature = sign(file);
  let nextCheck = Date.now() + everyS * 1000;
  return () => {
    if (Date.now() < nextCheck) return current;
    nextCheck = Date.now() + everyS * 1000;
    const now = sign(file);
    if (now === signature) return current;
    signature = now;
    try {
      current = loadPolicy(file);
      log.info('inventory policy reloaded', { file, version: current.version });
    } catch (err) {
      log.error('inventory policy not reloaded: the new version is invalid, the previous one stays in force', {
        file,
        error: describeError(err),
      });
    }
    return current;
  };
}

function sign(file: string): string {
  try {
    const { mtimeMs, size } = statSync(file);
    return `${mtimeMs}:${size}`;
  } catch {
    return 'missing';
  }
}

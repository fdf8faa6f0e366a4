import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AispmError } from '../errors.ts';
import { weightedFeatures, type FeatureSpace } from './features.ts';
import { RULES_DIR } from './rule-pack.ts';

/**
 * The learned scorer: logistic regression over hashed n-grams (features.ts) of the
 * normalised text. Weights are int8 with one scale, base64 in a JSON file under
 * rules/injection/, written by scripts/train-injection.ts. The bias is set at
 * training so that a probability of 0.5 is the chosen operating point.
 */
export const DEFAULT_MODEL = join(RULES_DIR, 'injection/model.v1.json');

const modelSchema = z.object({
  model: z.literal('injection-ngram-logreg'),
  version: z.number().int().min(1),
  space: z.object({
    bits: z.number().int().min(10).max(22),
    charMin: z.number().int().min(1).max(8),
    charMax: z.number().int().min(1).max(8),
    wordBigrams: z.boolean(),
  }),
  bias: z.number(),
  scale: z.number().positive(),
  weights: z.string(),
  training: z.record(z.string(), z.unknown()).optional(),
});

export type InjectionModelFile = z.infer<typeof modelSchema>;

export interface InjectionModel {
  space: FeatureSpace;
  bias: number;
  /** Int8 weights; a weight is weights[i] × scale. */
  weights: Int8Array;
  scale: number;
  file: string;
  /** What the training script recorded: corpus, options, validation figures. */
  training?: Record<string, unknown>;
}

export interface ModelScore {
  /** Probability of an attack, 0.5 at the operating point. */
  p: number;
  /** Where in the text the feature that added most starts, or -1. */
  at: number;
}

export function loadModel(file: string = DEFAULT_MODEL): InjectionModel {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AispmError(
      'model_invalid',
      `injection model ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return modelFromJson(raw, file);
}

export function modelFromJson(raw: unknown, file = '<inline>'): InjectionModel {
  const parsed = modelSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AispmError('model_invalid', `injection model ${file}: field ${issue.path.join('.')}: ${issue.message}`);
  }
  const { space, bias, scale } = parsed.data;
  const bytes = Buffer.from(parsed.data.weights, 'base64');
  if (bytes.length !== 1 << space.bits) {
    throw new AispmError('model_invalid', `injection model ${file}: ${bytes.length} weights, expected 2^${space.bits}`);
  }
  // Kept as bytes: a quarter of the memory a scan walks through, so it stays in the CPU's caches.
  const weights = new Int8Array(bytes.length);
  weights.set(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  return { space, bias, weights, scale, file, ...(parsed.data.training ? { training: parsed.data.training } : {}) };
}

/** Int8 weights with one scale, base64: what the model file stores. */
export function quantiseWeights(weights: Float32Array | Float64Array): { scale: number; weights: string } {
  let max = 0;
  for (const w of weights) max = Math.max(max, Math.abs(w));
  const scale = max > 0 ? max / 127 : 1;
  const q = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) q[i] = Math.round(weights[i]! / scale);
  return { scale, weights: Buffer.from(q.buffer).toString('base64') };
}

export function scoreText(model: InjectionModel, text: string): ModelScore {
  const { sum, count, bestAt } = weightedFeatures(text, model.space, model.weights);
  const z = model.bias + (count > 0 ? (sum * model.scale) / Math.sqrt(count) : 0);
  return { p: 1 / (1 + Math.exp(-z)), at: bestAt };
}

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
 * training so that a probability of 0.5 is the chosen operating point, for the rules
 * and the model together as detect.ts combines them.
 *
 * A model file may carry a gate: a second, small linear model over words, word pairs
 * and concepts only (no character n-grams, which are most of the cost). A text whose
 * gate logit is under the gate's cutoff scores 0 without the full model being read;
 * the cutoff is set at training so the gate passes all but a sliver (0.5 % by default)
 * of the attacks the full model finds. Most benign texts stop there.
 */
export const DEFAULT_MODEL = join(RULES_DIR, 'injection/model.v2.json');

const spaceSchema = z.object({
  bits: z.number().int().min(10).max(22),
  charMin: z.number().int().min(1).max(8),
  charMax: z.number().int().min(1).max(8),
  wordBigrams: z.boolean(),
  lexicon: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+\.json$/)
    .optional(),
  chars: z.boolean().optional(),
});

const modelSchema = z.object({
  model: z.literal('injection-ngram-logreg'),
  version: z.number().int().min(1),
  space: spaceSchema,
  bias: z.number(),
  scale: z.number().positive(),
  weights: z.string(),
  /** A cheap first stage: texts whose gate logit is under `cutoff` are not scored further. */
  gate: z
    .object({
      space: spaceSchema,
      bias: z.number(),
      scale: z.number().positive(),
      weights: z.string(),
      cutoff: z.number(),
    })
    .optional(),
  training: z.record(z.string(), z.unknown()).optional(),
});

export type InjectionModelFile = z.infer<typeof modelSchema>;

/** The model's first stage: a small linear model over words and concepts, cheap to score. */
export interface ModelGate {
  space: FeatureSpace;
  bias: number;
  weights: Int8Array;
  scale: number;
  /** Gate logit under which a text is benign without the full model's scoring. */
  cutoff: number;
}

export interface InjectionModel {
  space: FeatureSpace;
  bias: number;
  /** Int8 weights; a weight is weights[i] × scale. */
  weights: Int8Array;
  scale: number;
  /** When present, texts it passes over score 0 without reading their character n-grams. */
  gate?: ModelGate;
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
  const { space, bias, scale, gate } = parsed.data;
  const weights = int8Weights(parsed.data.weights, space, file);
  return {
    space,
    bias,
    weights,
    scale,
    ...(gate
      ? {
          gate: {
            space: gate.space,
            bias: gate.bias,
            scale: gate.scale,
            cutoff: gate.cutoff,
            weights: int8Weights(gate.weights, gate.space, file),
          },
        }
      : {}),
    file,
    ...(parsed.data.training ? { training: parsed.data.training } : {}),
  };
}

function int8Weights(base64: string, space: FeatureSpace, file: string): Int8Array {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== 1 << space.bits) {
    throw new AispmError('model_invalid', `injection model ${file}: ${bytes.length} weights, expected 2^${space.bits}`);
  }
  // Kept as bytes: a quarter of the memory a scan walks through, so it stays in the CPU's caches.
  const weights = new Int8Array(bytes.length);
  weights.set(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  return weights;
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
  const gate = model.gate;
  if (gate !== undefined && gateLogit(gate, text) < gate.cutoff) return { p: 0, at: -1 };
  const { sum, count, bestAt } = weightedFeatures(text, model.space, model.weights);
  const z = model.bias + (count > 0 ? (sum * model.scale) / Math.sqrt(count) : 0);
  return { p: 1 / (1 + Math.exp(-z)), at: bestAt };
}

/** The gate's logit for a text: the same linear form as the model's, over the gate's cheaper features. */
export function gateLogit(gate: ModelGate, text: string): number {
  const { sum, count } = weightedFeatures(text, gate.space, gate.weights);
  return gate.bias + (count > 0 ? (sum * gate.scale) / Math.sqrt(count) : 0);
}

#!/usr/bin/env node
/**
 * Trains the injection detector's learned scorer: logistic regression over hashed
 * n-grams of the normalised text (services/core/src/detect/features.ts), on the
 * labeled corpus test/corpus/injection/*.jsonl, and writes the weights to
 * rules/injection/model.v1.json. Deterministic: a fixed seed, fixed epochs, a
 * train/validation split by a hash of each example's id, no native code.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_FEATURE_SPACE,
  DEFAULT_MODEL,
  featureVector,
  modelText,
  quantiseWeights,
  splitShare,
} from '@aispm/core';

const HELP = `Usage: node scripts/train-injection.ts [options]

Trains the prompt-injection scorer (logistic regression over hashed character
3-6-grams and word uni/bigrams of the normalised text) on the labeled corpus and
writes its weights. Every run with the same corpus and options writes the same file.

Corpus: JSON lines {id, text, channel, label: "attack"|"benign", lang, category}.
Examples whose id hashes (FNV-1a) into the validation share are held out; the
decision threshold is set on them for the target false-positive rate and
validation precision and recall are printed.

Options:
  --corpus <dir>        directory of *.jsonl files (default test/corpus/injection)
  --out <file>          where the model goes (default rules/injection/model.v1.json)
  --epochs <n>          passes over the training set (default 20)
  --seed <n>            shuffle and dropout seed (default 20261207)
  --lr <x>              AdaGrad learning rate (default 0.3)
  --l2 <x>              L2 penalty per update (default 0.0005)
  --dropout <x>         share of an example's features dropped per pass (default 0.3)
  --min-df <n>          features seen in fewer training texts get no weight (default 3)
  --bits <n>            hash space 2^n buckets (default ${DEFAULT_FEATURE_SPACE.bits})
  --char-min <n>        shortest character n-gram (default ${DEFAULT_FEATURE_SPACE.charMin})
  --char-max <n>        longest character n-gram (default ${DEFAULT_FEATURE_SPACE.charMax})
  --validation <x>      held-out share, by id hash (default 0.2)
  --target-fpr <x>      validation false-positive rate the threshold allows (default 0.01)
  --all                 after choosing the threshold, retrain on train + validation
  --dry-run             train and report, write nothing
  -h, --help            show this help`;

const { values } = parseArgs({
  options: {
    corpus: { type: 'string', default: 'test/corpus/injection' },
    out: { type: 'string', default: DEFAULT_MODEL },
    epochs: { type: 'string', default: '20' },
    seed: { type: 'string', default: '20261207' },
    lr: { type: 'string', default: '0.3' },
    l2: { type: 'string', default: '0.0005' },
    dropout: { type: 'string', default: '0.3' },
    'min-df': { type: 'string', default: '3' },
    bits: { type: 'string', default: String(DEFAULT_FEATURE_SPACE.bits) },
    'char-min': { type: 'string', default: String(DEFAULT_FEATURE_SPACE.charMin) },
    'char-max': { type: 'string', default: String(DEFAULT_FEATURE_SPACE.charMax) },
    validation: { type: 'string', default: '0.2' },
    'target-fpr': { type: 'string', default: '0.01' },
    all: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

const num = (name: keyof typeof values): number => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`train-injection: --${name} expects a non-negative number, got "${String(values[name])}"\n`);
    process.exit(2);
  }
  return value;
};
const options = {
  epochs: num('epochs'),
  seed: num('seed'),
  lr: num('lr'),
  l2: num('l2'),
  dropout: num('dropout'),
  minDf: num('min-df'),
  validation: num('validation'),
  targetFpr: num('target-fpr'),
};
const space = {
  ...DEFAULT_FEATURE_SPACE,
  bits: num('bits'),
  charMin: num('char-min'),
  charMax: num('char-max'),
};
if (space.bits < 10 || space.bits > 22 || space.charMin < 1 || space.charMax < space.charMin) {
  process.stderr.write('train-injection: --bits must be 10..22 and --char-min <= --char-max\n');
  process.exit(2);
}

interface Example {
  id: string;
  label: 0 | 1;
  lang: string;
  channel: string;
  category: string;
  buckets: Int32Array;
  signs: Int8Array;
}

/** mulberry32: the shuffle and dropout draw from it, so runs repeat exactly. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readCorpus(dir: string): { examples: Example[]; files: Record<string, string> } {
  const files: Record<string, string> = {};
  const examples: Example[] = [];
  const seen = new Set<string>();
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort();
  if (names.length === 0) throw new Error(`no *.jsonl files in ${dir}`);
  for (const name of names) {
    const raw = readFileSync(join(dir, name), 'utf8');
    files[name] = createHash('sha256').update(raw).digest('hex').slice(0, 16);
    raw.split('\n').forEach((line, index) => {
      if (line.trim() === '') return;
      let row: { id?: unknown; text?: unknown; label?: unknown; lang?: unknown; channel?: unknown; category?: unknown };
      try {
        row = JSON.parse(line) as typeof row;
      } catch {
        process.stderr.write(`  ${name}:${index + 1}: not JSON, skipped\n`);
        return;
      }
      if (
        typeof row.id !== 'string' ||
        typeof row.text !== 'string' ||
        (row.label !== 'attack' && row.label !== 'benign')
      ) {
        process.stderr.write(`  ${name}:${index + 1}: needs string id and text and label attack|benign, skipped\n`);
        return;
      }
      if (seen.has(row.id)) {
        process.stderr.write(`  ${name}:${index + 1}: id ${row.id} seen before, skipped\n`);
        return;
      }
      seen.add(row.id);
      const { buckets, signs } = featureVector(modelText(row.text), space);
      examples.push({
        id: row.id,
        label: row.label === 'attack' ? 1 : 0,
        lang: typeof row.lang === 'string' ? row.lang : '?',
        channel: typeof row.channel === 'string' ? row.channel : '?',
        category: typeof row.category === 'string' ? row.category : '?',
        buckets,
        signs,
      });
    });
  }
  return { examples, files };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

function train(examples: readonly Example[], size: number): { weights: Float64Array; bias: number } {
  const random = generator(options.seed);
  // Document frequency: a feature seen in fewer than min-df training texts names one text, not a pattern.
  const df = new Uint32Array(size);
  for (const ex of examples) for (const b of ex.buckets) df[b]!++;
  const usable = df.map((count) => (count >= options.minDf ? 1 : 0));
  const weights = new Float64Array(size);
  const squares = new Float64Array(size).fill(1e-8);
  let bias = 0;
  let biasSquares = 1e-8;
  const positives = examples.filter((e) => e.label === 1).length;
  // Each class weighs as much as the other in the loss, whatever their counts.
  const classWeight = [examples.length / (2 * (examples.length - positives)), examples.length / (2 * positives)];
  const order = examples.map((_, i) => i);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let loss = 0;
    for (const index of order) {
      const ex = examples[index]!;
      const norm = 1 / Math.sqrt(Math.max(1, ex.buckets.length));
      // Feature dropout: the model cannot lean on any one n-gram, so it learns many weak cues.
      const kept: number[] = [];
      let z = bias;
      for (let k = 0; k < ex.buckets.length; k++) {
        const b = ex.buckets[k]!;
        if (usable[b] === 0 || random() < options.dropout) continue;
        kept.push(k);
        z += weights[b]! * ex.signs[k]! * norm;
      }
      const p = sigmoid(z);
      const weight = classWeight[ex.label]!;
      loss -= weight * Math.log(ex.label === 1 ? Math.max(p, 1e-12) : Math.max(1 - p, 1e-12));
      const g = weight * (p - ex.label);
      for (const k of kept) {
        const b = ex.buckets[k]!;
        const grad = g * ex.signs[k]! * norm + options.l2 * weights[b]!;
        squares[b]! += grad * grad;
        weights[b]! -= (options.lr * grad) / Math.sqrt(squares[b]!);
      }
      biasSquares += g * g;
      bias -= (options.lr * g) / Math.sqrt(biasSquares);
    }
    process.stderr.write(`  epoch ${epoch + 1}/${options.epochs}: loss ${(loss / examples.length).toFixed(4)}\n`);
  }
  return { weights, bias };
}

function logit(ex: Example, weights: Float64Array | Float32Array, bias: number): number {
  let sum = 0;
  for (let k = 0; k < ex.buckets.length; k++) sum += weights[ex.buckets[k]!]! * ex.signs[k]!;
  return bias + sum / Math.sqrt(Math.max(1, ex.buckets.length));
}

interface Figures {
  precision: number;
  recall: number;
  fpr: number;
  attacks: number;
  benign: number;
}

function figures(scored: readonly { label: number; z: number }[], threshold: number): Figures {
  let tp = 0;
  let fp = 0;
  let attacks = 0;
  for (const { label, z } of scored) {
    if (label === 1) attacks++;
    if (z >= threshold) {
      if (label === 1) tp++;
      else fp++;
    }
  }
  const benign = scored.length - attacks;
  return {
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: attacks === 0 ? 0 : tp / attacks,
    fpr: benign === 0 ? 0 : fp / benign,
    attacks,
    benign,
  };
}

/** The lowest logit threshold whose false-positive rate on `scored` is at most `target`. */
function thresholdFor(scored: readonly { label: number; z: number }[], target: number): number {
  const benign = scored
    .filter((s) => s.label === 0)
    .map((s) => s.z)
    .sort((a, b) => b - a);
  const allowed = Math.floor(target * benign.length);
  // Just above the (allowed+1)-th highest benign score: at most `allowed` benign texts reach it.
  const edge = benign[allowed];
  return edge === undefined ? -Infinity : edge + 1e-6;
}

const round = (x: number, digits = 4): number => Math.round(x * 10 ** digits) / 10 ** digits;

const started = performance.now();
const corpusDir = values.corpus;
const { examples, files } = readCorpus(corpusDir);
const isValidation = (e: Example): boolean => splitShare(e.id) < options.validation;
const trainSet = examples.filter((e) => !isValidation(e));
const validation = examples.filter(isValidation);
const count = (list: readonly Example[], label: number): number => list.filter((e) => e.label === label).length;
process.stderr.write(
  `train-injection: ${examples.length} texts (${count(examples, 1)} attack, ${count(examples, 0)} benign) from ${Object.keys(files).length} files; ` +
    `train ${trainSet.length}, validation ${validation.length}\n`,
);
const size = 1 << space.bits;
let model = train(trainSet, size);
const scored = validation.map((e) => ({ label: e.label, z: logit(e, model.weights, model.bias), ex: e }));
const threshold = validation.length > 0 ? thresholdFor(scored, options.targetFpr) : 0;
const atThreshold = figures(scored, threshold);
const atHalf = figures(scored, 0);
// Recall per language and channel on the held-out texts: where the model is weak.
const breakdown: Record<string, string> = {};
for (const key of ['lang', 'channel'] as const) {
  const groups = new Map<string, { label: number; z: number }[]>();
  for (const s of scored) {
    const name = `${key}=${s.ex[key]}`;
    groups.set(name, [...(groups.get(name) ?? []), s]);
  }
  for (const [name, list] of [...groups].sort()) {
    const f = figures(list, threshold);
    breakdown[name] = `recall ${round(f.recall, 3)} (${f.attacks}), fpr ${round(f.fpr, 3)} (${f.benign})`;
  }
}
if (values.all) {
  process.stderr.write('  retraining on train + validation with the chosen threshold\n');
  model = train(examples, size);
}
const { scale, weights } = quantiseWeights(model.weights);
const report = {
  examples: examples.length,
  attacks: count(examples, 1),
  benign: count(examples, 0),
  train: trainSet.length,
  validation: validation.length,
  corpus: { dir: relative(process.cwd(), corpusDir) || corpusDir, files },
  options,
  retrainedOnAll: values.all,
  thresholdLogit: round(threshold),
  validationAtThreshold: {
    precision: round(atThreshold.precision),
    recall: round(atThreshold.recall),
    fpr: round(atThreshold.fpr),
  },
  validationAtHalf: { precision: round(atHalf.precision), recall: round(atHalf.recall), fpr: round(atHalf.fpr) },
};
process.stderr.write(
  `validation at the chosen threshold (target FPR ${options.targetFpr}): precision ${report.validationAtThreshold.precision}, ` +
    `recall ${report.validationAtThreshold.recall}, FPR ${report.validationAtThreshold.fpr} ` +
    `(${atThreshold.attacks} attack, ${atThreshold.benign} benign)\n` +
    `validation at p=0.5 before calibration: precision ${report.validationAtHalf.precision}, recall ${report.validationAtHalf.recall}, FPR ${report.validationAtHalf.fpr}\n`,
);
for (const [name, line] of Object.entries(breakdown)) process.stderr.write(`  ${name.padEnd(24)} ${line}\n`);
const file = {
  model: 'injection-ngram-logreg',
  version: 1,
  space,
  // Shifted so that p = 0.5 is the chosen threshold.
  bias: round(model.bias - (Number.isFinite(threshold) ? threshold : 0), 6),
  scale,
  weights,
  training: report,
};
if (values['dry-run']) process.stderr.write('dry run: nothing written\n');
else {
  writeFileSync(values.out, `${JSON.stringify(file, null, 2)}\n`);
  process.stderr.write(`wrote ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

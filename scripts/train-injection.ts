#!/usr/bin/env node
/**
 * Trains the injection detector's learned scorer: logistic regression over hashed
 * n-grams of the normalised text (services/core/src/detect/features.ts), on the
 * labeled corpus test/corpus/injection/*.jsonl, and writes the weights to
 * rules/injection/model.v2.json. Deterministic: a fixed seed, fixed epochs, a
 * train/validation split by a hash of each example's id, no native code.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_FEATURE_SPACE,
  DEFAULT_MODEL,
  featureVector,
  modelText,
  quantiseWeights,
  splitShare,
  createInjectionDetector,
  CONTENT_CHANNELS,
  type ContentChannel,
  type FeatureSpace,
} from '@aispm/core';

const HELP = `Usage: node scripts/train-injection.ts [options]

Trains the prompt-injection scorer (logistic regression over hashed character
3-6-grams and word uni/bigrams of the normalised text) on the labeled corpus and
writes its weights. Every run with the same corpus and options writes the same file.

Corpus: JSON lines {id, text, channel, label: "attack"|"benign", lang, category}.
Examples whose id hashes (FNV-1a) into the validation share are held out and
never used for a choice: the decision threshold is set for the target
false-positive rate on out-of-fold scores of k-fold cross-validation over the
training share, and the held-out precision and recall at that threshold are
printed (an honest estimate for texts like the corpus').

Options:
  --corpus <dir>        directory of *.jsonl files (default test/corpus/injection)
  --out <file>          where the model goes (default rules/injection/model.v2.json)
  --epochs <n>          passes over the training set (default 20)
  --seed <n>            shuffle and dropout seed (default 20261207)
  --lr <x>              AdaGrad learning rate (default 0.3)
  --l2 <x>              L2 penalty per update (default 0.0005)
  --dropout <x>         share of an example's features dropped per pass (default 0.3)
  --min-df <n>          features seen in fewer training texts get no weight (default 3)
  --bits <n>            hash space 2^n buckets (default ${DEFAULT_FEATURE_SPACE.bits})
  --char-min <n>        shortest character n-gram (default ${DEFAULT_FEATURE_SPACE.charMin})
  --char-max <n>        longest character n-gram (default ${DEFAULT_FEATURE_SPACE.charMax})
  --lexicon <file>      intent lexicon under rules/injection/ for concept features, "none" for none (default ${DEFAULT_FEATURE_SPACE.lexicon ?? 'none'})
  --gate-bits <n>       the gate (a first stage over words and concepts that lets most benign texts
                        skip the full model) in 2^n buckets, 0 for no gate (default 16)
  --gate-keep <x>       share of the attacks the model finds (cross-validated) the gate must pass (default 0.995)
  --cv <k>              folds of cross-validation on the training share that choose the threshold (default 5)
  --validation <x>      held-out share, by id hash (default 0.2)
  --target-fpr <x>      cross-validated false-positive rate the threshold allows (default 0.01)
  --all                 after choosing the threshold, retrain on train + validation
  --dry-run             train and report, write nothing
  --verbose             print the loss of every epoch
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
    cv: { type: 'string', default: '5' },
    'gate-bits': { type: 'string', default: '16' },
    'gate-keep': { type: 'string', default: '0.995' },
    lexicon: { type: 'string', default: DEFAULT_FEATURE_SPACE.lexicon ?? 'none' },
    validation: { type: 'string', default: '0.2' },
    'target-fpr': { type: 'string', default: '0.01' },
    all: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
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
  cv: num('cv'),
  gateBits: num('gate-bits'),
  gateKeep: num('gate-keep'),
};
const space: FeatureSpace = {
  bits: num('bits'),
  charMin: num('char-min'),
  charMax: num('char-max'),
  wordBigrams: DEFAULT_FEATURE_SPACE.wordBigrams,
  ...(values.lexicon === 'none' ? {} : { lexicon: values.lexicon }),
};
if (space.bits < 10 || space.bits > 22 || space.charMin < 1 || space.charMax < space.charMin) {
  process.stderr.write('train-injection: --bits must be 10..22 and --char-min <= --char-max\n');
  process.exit(2);
}
if (options.gateBits !== 0 && (options.gateBits < 10 || options.gateBits > 22)) {
  process.stderr.write('train-injection: --gate-bits must be 0 or 10..22\n');
  process.exit(2);
}
/** The shipped rule pack without a model: the threshold is chosen for rules and model together, as they run. */
const rulesOnly = createInjectionDetector({ model: null });
/** The gate reads words, word pairs and concepts: no character n-grams, most of the model's cost. */
const gateSpace = { ...space, bits: options.gateBits, chars: false };

interface Example {
  id: string;
  label: 0 | 1;
  lang: string;
  channel: string;
  category: string;
  buckets: Int32Array;
  signs: Int8Array;
  /** The gate's features (empty without a gate). */
  gate: { buckets: Int32Array; signs: Int8Array };
  /** What the rule pack alone scores the text (the detector combines it with the model's probability). */
  rules: number;
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
      const text = modelText(row.text);
      const { buckets, signs } = featureVector(text, space);
      const gate =
        options.gateBits > 0 ? featureVector(text, gateSpace) : { buckets: new Int32Array(0), signs: new Int8Array(0) };
      const channel = (CONTENT_CHANNELS as readonly string[]).includes(String(row.channel))
        ? (row.channel as ContentChannel)
        : 'user_prompt';
      examples.push({
        rules: rulesOnly.detect(row.text, channel).score,
        id: row.id,
        label: row.label === 'attack' ? 1 : 0,
        lang: typeof row.lang === 'string' ? row.lang : '?',
        channel: typeof row.channel === 'string' ? row.channel : '?',
        category: typeof row.category === 'string' ? row.category : '?',
        buckets,
        signs,
        gate,
      });
    });
  }
  return { examples, files };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

function train(examples: readonly Example[], size: number, name: string): { weights: Float64Array; bias: number } {
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
    if (values.verbose || epoch + 1 === options.epochs)
      process.stderr.write(
        `  ${name}: epoch ${epoch + 1}/${options.epochs}, loss ${(loss / examples.length).toFixed(4)}\n`,
      );
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
/** An example read through the gate's features, for training and scoring the gate. */
const asGate = (e: Example): Example => ({ ...e, buckets: e.gate.buckets, signs: e.gate.signs });
// Out-of-fold logits of the training share (fold by id hash): the threshold is chosen on them, not on the held-out.
const folds = Math.max(0, Math.floor(options.cv));
const outOfFold: { label: number; z: number; rules: number; gate: number }[] = [];
if (folds >= 2) {
  const foldOf = (e: Example): number => Math.min(folds - 1, Math.floor(splitShare(`fold:${e.id}`) * folds));
  for (let fold = 0; fold < folds; fold++) {
    const rest = trainSet.filter((e) => foldOf(e) !== fold);
    const fitted = train(rest, size, `fold ${fold + 1}/${folds}`);
    const gate = options.gateBits > 0 ? train(rest.map(asGate), 1 << options.gateBits, `gate fold ${fold + 1}`) : null;
    for (const e of trainSet.filter((x) => foldOf(x) === fold))
      outOfFold.push({
        label: e.label,
        z: logit(e, fitted.weights, fitted.bias),
        rules: e.rules,
        gate: gate === null ? 0 : logit(asGate(e), gate.weights, gate.bias),
      });
  }
}
let model = train(trainSet, size, 'final');
const gateModel = options.gateBits > 0 ? train(trainSet.map(asGate), 1 << options.gateBits, 'gate') : null;
// Without cross-validation the threshold falls back on the held-out share (then its figures flatter).
const threshold =
  outOfFold.length > 0
    ? thresholdFor(outOfFold, options.targetFpr)
    : validation.length > 0
      ? thresholdFor(
          validation.map((e) => ({ label: e.label, z: logit(e, model.weights, model.bias) })),
          options.targetFpr,
        )
      : 0;
const atCv = figures(outOfFold, threshold);
// The gate's cutoff: under the gate logit of all but (1 - keep) of the attacks the model finds out of fold.
const found = outOfFold
  .filter((s) => s.label === 1 && s.z >= threshold)
  .map((s) => s.gate)
  .sort((a, b) => a - b);
const gateCutoff =
  gateModel !== null && found.length > 0 ? found[Math.floor((1 - options.gateKeep) * found.length)]! - 1e-6 : -Infinity;
/**
 * The detector flags a text when the noisy-or of the rules' score r and the model's p reaches 0.5: when
 * p ≥ 1 − 0.5 / (1 − r), i.e. when the model's logit minus the threshold reaches logit(1 − 0.5 / (1 − r)).
 * So each text has an effective logit, z − that, and the combined threshold is chosen on those out of fold,
 * the gate in front (a text it passes over has p = 0: only the rules can flag it).
 */
const effective = (z: number, rules: number, gate: number): number => {
  if (rules >= 0.5) return Infinity;
  if (gate < gateCutoff) return -Infinity;
  const need = 1 - 0.5 / (1 - rules);
  return z - Math.log(need / (1 - need));
};
const combinedOutOfFold = outOfFold.map((s) => ({ label: s.label, z: effective(s.z, s.rules, s.gate) }));
const combinedThreshold = combinedOutOfFold.length > 0 ? thresholdFor(combinedOutOfFold, options.targetFpr) : threshold;
const atCombined = figures(combinedOutOfFold, combinedThreshold);
/** Out-of-fold figures with the gate in front: a text it passes over counts as benign, as in the detector. */
const gateCv = figures(
  outOfFold.map((s) => ({ label: s.label, z: s.gate < gateCutoff ? -Infinity : s.z })),
  threshold,
);
const benignOutOfFold = outOfFold.filter((s) => s.label === 0);
const gateSkips = benignOutOfFold.filter((s) => s.gate < gateCutoff).length / Math.max(1, benignOutOfFold.length);
/** Held-out texts as the detector reads them (rules, gate and model): flagged when z reaches combinedThreshold. */
const scored = validation.map((e) => {
  const gate = gateModel === null ? 0 : logit(asGate(e), gateModel.weights, gateModel.bias);
  return { label: e.label, z: effective(logit(e, model.weights, model.bias), e.rules, gate), ex: e };
});
const atThreshold = figures(scored, combinedThreshold);
// Recall per language and channel on the held-out texts: where the model is weak.
const breakdown: Record<string, string> = {};
for (const key of ['lang', 'channel'] as const) {
  const groups = new Map<string, { label: number; z: number }[]>();
  for (const s of scored) {
    const name = `${key}=${s.ex[key]}`;
    groups.set(name, [...(groups.get(name) ?? []), s]);
  }
  for (const [name, list] of [...groups].sort()) {
    const f = figures(list, combinedThreshold);
    breakdown[name] = `recall ${round(f.recall, 3)} (${f.attacks}), fpr ${round(f.fpr, 3)} (${f.benign})`;
  }
}
if (values.all) {
  process.stderr.write('  retraining on train + validation with the chosen threshold\n');
  model = train(examples, size, 'all');
}
const { scale, weights } = quantiseWeights(model.weights);
const report = {
  examples: examples.length,
  attacks: count(examples, 1),
  benign: count(examples, 0),
  train: trainSet.length,
  validation: validation.length,
  corpus: { dir: relative(process.cwd(), corpusDir) || corpusDir, files },
  lexicon:
    space.lexicon === undefined
      ? null
      : createHash('sha256')
          .update(readFileSync(join(dirname(DEFAULT_MODEL), space.lexicon)))
          .digest('hex')
          .slice(0, 16),
  options,
  retrainedOnAll: values.all,
  /** The model's own threshold (for the gate's cutoff), and the one for rules, gate and model together. */
  modelThresholdLogit: round(threshold),
  thresholdLogit: round(combinedThreshold),
  crossValidated: { folds, recall: round(atCv.recall), fpr: round(atCv.fpr), precision: round(atCv.precision) },
  crossValidatedWithRules: {
    recall: round(atCombined.recall),
    fpr: round(atCombined.fpr),
    precision: round(atCombined.precision),
  },
  gate:
    gateModel === null
      ? null
      : {
          cutoffLogit: round(gateCutoff),
          crossValidatedRecall: round(gateCv.recall),
          crossValidatedBenignSkipped: round(gateSkips),
        },
  validationAtThreshold: {
    precision: round(atThreshold.precision),
    recall: round(atThreshold.recall),
    fpr: round(atThreshold.fpr),
  },
};
process.stderr.write(
  `cross-validated (${folds} folds of the training share) at the chosen threshold: precision ${report.crossValidated.precision}, ` +
    `recall ${report.crossValidated.recall}, FPR ${report.crossValidated.fpr}\n` +
    `  with the rules and the gate, at the detector's threshold: precision ${report.crossValidatedWithRules.precision}, ` +
    `recall ${report.crossValidatedWithRules.recall}, FPR ${report.crossValidatedWithRules.fpr}\n`,
);
if (report.gate !== null)
  process.stderr.write(
    `gate (cross-validated): recall with the gate ${report.gate.crossValidatedRecall}, benign texts it skips ${report.gate.crossValidatedBenignSkipped}\n`,
  );
process.stderr.write(
  `held-out, rules + gate + model at the detector's threshold (target FPR ${options.targetFpr}): precision ${report.validationAtThreshold.precision}, ` +
    `recall ${report.validationAtThreshold.recall}, FPR ${report.validationAtThreshold.fpr} ` +
    `(${atThreshold.attacks} attack, ${atThreshold.benign} benign)\n`,
);
for (const [name, line] of Object.entries(breakdown)) process.stderr.write(`  ${name.padEnd(24)} ${line}\n`);
const file = {
  model: 'injection-ngram-logreg',
  version: 2,
  space,
  // Shifted so that p = 0.5 is the chosen threshold.
  bias: round(model.bias - (Number.isFinite(combinedThreshold) ? combinedThreshold : 0), 6),
  scale,
  weights,
  ...(gateModel === null
    ? {}
    : {
        gate: {
          space: gateSpace,
          bias: round(gateModel.bias, 6),
          ...quantiseWeights(gateModel.weights),
          cutoff: round(gateCutoff, 6),
        },
      }),
  training: report,
};
if (values['dry-run']) process.stderr.write('dry run: nothing written\n');
else {
  writeFileSync(values.out, `${JSON.stringify(file, null, 2)}\n`);
  process.stderr.write(`wrote ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createInjectionDetector,
  createSensitiveDetector,
  findSensitive,
  PII_KINDS,
  splitShare,
  truncateUtf8,
  type ContentChannel,
  type InjectionDetector,
  type RedactionKind,
  type SensitiveDetector,
  type AiEvent,
  type Finding,
} from '@aispm/core';
import { DEMO_POLICY, LABEL_ATTRIBUTE, SCENARIOS, generateTraffic } from '@aispm/cli';
import { behaviourRaiser, Scorer } from '@aispm/processor';
import { CORPUS, ENCODINGS, variants } from '../test/privacy/corpus.ts';
import { machineBusy, percentile, repeat, type Benchmark } from './harness.ts';

/**
 * Detector quality on the project's labeled corpora, and the injection scan's cost.
 *
 * injection: every text of test/corpus/injection/*.jsonl through the detector as
 * the shim and the gateway run it (rules + learned scorer); an `attack` label is a
 * detection. Reported on the whole corpus and on the held-out share the training
 * script never fitted (the split by id hash it used), and rules alone (no model),
 * which are not fitted to the corpus at all: the held-out and rules-only figures
 * are the better guide to unseen texts.
 *
 * pii, secrets: recall on the shared privacy corpus (test/privacy/corpus.ts),
 * every value in every spelling and encoding; a detection is a finding of the
 * value's sensitivity. That corpus has no labeled negatives, so there is no
 * false-positive rate for them: flag_rate_*_benign is the share of the injection
 * corpus' benign texts with any finding, an upper bound (those texts may hold
 * real-looking emails or keys on purpose).
 *
 * scan_us_p50: one detectInjection call on a 2 KB document made of benign corpus
 * texts (64 documents, every language), median over repeats of the per-call median;
 * scan_us_p50_attack the same on attack texts (more rules fire, excerpts are cut).
 *
 * sensitive: every text of test/corpus/sensitive/*.jsonl through the PII and
 * secrets detector (rules/sensitive/sensitive.v1.json); any detection flags the
 * text. recall_sensitive and fpr_sensitive over the whole corpus, recall_pii_corpus
 * and recall_secrets_corpus over the texts holding a value of that family, and
 * kind_recall_sensitive: the share of labeled kinds the detector reported as that
 * kind. sensitive_us_p50: one detect call on a 2 KB document of the sensitive
 * corpus' benign texts (logs, code, configs, digests: the dense kind), median as
 * for scan_us_p50; sensitive_us_p50_positive on its sensitive texts;
 * sensitive_us_p50_prose on the injection corpus' benign texts (prose: most of
 * what the gateway sees).
 */
const CORPUS_DIR = join(import.meta.dirname, '../test/corpus/injection');
const SENSITIVE_DIR = join(import.meta.dirname, '../test/corpus/sensitive');
/** 2 KB documents timed, and passes over them per repeat. */
const DOCUMENTS = 64;
const PASSES = 40;

interface Row {
  id: string;
  text: string;
  channel: ContentChannel;
  label: 'attack' | 'benign';
  lang: string;
}

interface SensitiveRow {
  id: string;
  text: string;
  channel: ContentChannel;
  label: 'sensitive' | 'benign';
  kinds: string[];
  lang: string;
}

function readJsonl<T>(dir: string): T[] {
  const rows: T[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        rows.push(JSON.parse(line) as T);
      } catch {
        // The corpus' own test reports malformed lines; the benchmark counts what parses.
      }
    }
  }
  return rows;
}

function evaluateSensitive(detector: SensitiveDetector, rows: readonly SensitiveRow[]) {
  const all: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const family = { pii: { found: 0, all: 0 }, secret: { found: 0, all: 0 } };
  let kindsFound = 0;
  let kindsAll = 0;
  const byChannel = new Map<string, Confusion>();
  for (const row of rows) {
    const found = detector.detect(row.text, row.channel);
    const flagged = found.length > 0;
    const sensitive = row.label === 'sensitive';
    const channel = byChannel.get(row.channel) ?? { tp: 0, fp: 0, fn: 0, tn: 0 };
    byChannel.set(row.channel, channel);
    for (const c of [all, channel]) {
      if (sensitive && flagged) c.tp++;
      else if (sensitive) c.fn++;
      else if (flagged) c.fp++;
      else c.tn++;
    }
    if (!sensitive) continue;
    const kinds = new Set(found.map((d) => d.kind));
    for (const kind of row.kinds) {
      kindsAll++;
      if (kinds.has(kind)) kindsFound++;
    }
    for (const name of ['pii', 'secret'] as const) {
      if (row.kinds.some((kind) => isPii(kind as RedactionKind) === (name === 'pii'))) {
        family[name].all++;
        if (flagged) family[name].found++;
      }
    }
  }
  return {
    all,
    byChannel,
    pii: family.pii.found / Math.max(1, family.pii.all),
    secrets: family.secret.found / Math.max(1, family.secret.all),
    kinds: kindsFound / Math.max(1, kindsAll),
  };
}

function readCorpus(): Row[] {
  const rows: Row[] = [];
  for (const file of readdirSync(CORPUS_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const line of readFileSync(join(CORPUS_DIR, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        rows.push(JSON.parse(line) as Row);
      } catch {
        // The corpus' own test reports malformed lines; the benchmark counts what parses.
      }
    }
  }
  return rows;
}

interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

const rates = (c: Confusion): { precision: number; recall: number; fpr: number } => ({
  precision: c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp),
  recall: c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn),
  fpr: c.fp + c.tn === 0 ? 0 : c.fp / (c.fp + c.tn),
});

function evaluate(
  detector: InjectionDetector,
  rows: readonly Row[],
): { all: Confusion; byLang: Map<string, Confusion> } {
  const all: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const byLang = new Map<string, Confusion>();
  for (const row of rows) {
    const flagged = detector.detect(row.text, row.channel).label === 'attack';
    const attack = row.label === 'attack';
    const lang = byLang.get(row.lang) ?? { tp: 0, fp: 0, fn: 0, tn: 0 };
    byLang.set(row.lang, lang);
    for (const c of [all, lang]) {
      if (attack && flagged) c.tp++;
      else if (attack) c.fn++;
      else if (flagged) c.fp++;
      else c.tn++;
    }
  }
  return { all, byLang };
}

const isPii = (kind: RedactionKind): boolean => (PII_KINDS as readonly string[]).includes(kind);

function redactionRecall(sensitivity: 'pii' | 'secret'): { recall: number; cases: number } {
  let found = 0;
  let cases = 0;
  for (const entry of CORPUS.filter((e) => e.sensitivity === sensitivity)) {
    for (const value of variants(entry)) {
      for (const encode of Object.values(ENCODINGS)) {
        cases++;
        const kinds = findSensitive(encode(entry.text.replace(entry.value, value))).map((f) => f.kind);
        if (kinds.some((kind) => isPii(kind) === (sensitivity === 'pii'))) found++;
      }
    }
  }
  return { recall: found / cases, cases };
}

/**
 * Documents of 2 KB (UTF-8) made of consecutive corpus texts of one label, each
 * starting at a different point of the corpus, so the figure is not one text's.
 */
function documents(pool: readonly { text: string }[], count: number): string[] {
  const out: string[] = [];
  for (let d = 0; d < count && pool.length > 0; d++) {
    let text = '';
    for (let k = Math.floor((d * pool.length) / count); Buffer.byteLength(text) < 2048; k = (k + 1) % pool.length)
      text += `${pool[k]!.text}\n\n`;
    out.push(truncateUtf8(text, 2048));
  }
  return out;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The behavioural detectors on the demo's labeled traffic (its scenarios and the
 * benign fleet, as the agents stage would see them): per finding type, recall is
 * the share of the scenarios expected to raise it (Scenario.detects) that did, on
 * one of their own events; the false-positive rate is the share of benign events
 * that raised it; precision is the share of its findings' events that are injected.
 */
function evaluateBehaviour(
  seed: number,
): Record<string, { recall: number; fpr: number; precision: number; scenarios: number }> {
  const endMs = Date.UTC(2026, 10, 2);
  const events = [...generateTraffic({ seed, total: 40_000, tenant: 'bench', spanMs: 24 * 3_600_000, endMs })];
  const scorer = new Scorer({
    now: () => endMs,
    findings: { raiser: behaviourRaiser({ policyFile: DEMO_POLICY }), quietMinutes: 60 },
  });
  const labelOf = (e: AiEvent): string => e.attributes[LABEL_ATTRIBUTE] ?? '';
  const byEvent = new Map(events.map((e) => [e.event_id, labelOf(e)]));
  const raised = new Map<string, { scenarios: Set<string>; benign: Set<string>; injected: number; all: number }>();
  for (const event of events) {
    const found: Finding[] = [];
    scorer.score(event, undefined, undefined, found);
    for (const f of found) {
      if (f.type === 'behaviour_anomaly' || f.type === 'behaviour_drift') continue;
      const r = raised.get(f.type) ?? { scenarios: new Set(), benign: new Set(), injected: 0, all: 0 };
      raised.set(f.type, r);
      const labels = f.event_ids.map((id) => byEvent.get(id) ?? '');
      r.all++;
      if (labels.some((l) => l !== '')) r.injected++;
      for (const l of labels) if (l !== '') r.scenarios.add(l);
      // A finding on benign traffic only: its event counts against the false-positive rate.
      if (labels.every((l) => l === '')) r.benign.add(event.event_id);
    }
  }
  const benignEvents = events.filter((e) => labelOf(e) === '').length;
  const out: Record<string, { recall: number; fpr: number; precision: number; scenarios: number }> = {};
  const types = new Set(SCENARIOS.flatMap((sc) => sc.detects ?? []));
  for (const type of types) {
    const expected = SCENARIOS.filter((sc) => sc.detects?.includes(type)).map((sc) => sc.label);
    const r = raised.get(type);
    out[type] = {
      recall: expected.filter((l) => r?.scenarios.has(l)).length / expected.length,
      fpr: (r?.benign.size ?? 0) / benignEvents,
      precision: r && r.all > 0 ? r.injected / r.all : 1,
      scenarios: expected.length,
    };
  }
  return out;
}

const bench: Benchmark = {
  description:
    'detector precision, recall and false-positive rate on the project corpora; injection and sensitive-data scan cost for 2 KB',
  async run(progress) {
    const rows = readCorpus();
    const detector = createInjectionDetector();
    if (detector.model === null) progress('no model file: rules only');
    const rulesOnly = createInjectionDetector({ rules: detector.rules, model: null });
    // The share the training script held out, read from the model file so the two always agree.
    const options = detector.model?.training?.options as { validation?: unknown } | undefined;
    const share = typeof options?.validation === 'number' ? options.validation : 0.2;
    const holdout = rows.filter((row) => splitShare(row.id) < share);
    const attacks = rows.filter((r) => r.label === 'attack').length;
    progress(
      `injection corpus: ${rows.length} texts (${attacks} attack, ${rows.length - attacks} benign), held out ${holdout.length}`,
    );

    const started = performance.now();
    const full = evaluate(detector, rows);
    const evalMs = performance.now() - started;
    const held = evaluate(detector, holdout);
    const rules = evaluate(rulesOnly, rows);
    const f = rates(full.all);
    const h = rates(held.all);
    const r = rates(rules.all);
    progress(`injection (rules + model): precision ${r3(f.precision)}, recall ${r3(f.recall)}, FPR ${r3(f.fpr)}`);
    progress(`  held-out share:           precision ${r3(h.precision)}, recall ${r3(h.recall)}, FPR ${r3(h.fpr)}`);
    progress(`  rules only:               precision ${r3(r.precision)}, recall ${r3(r.recall)}, FPR ${r3(r.fpr)}`);
    const perLang: Record<string, string> = {};
    for (const [lang, c] of [...full.byLang].sort()) {
      const x = rates(c);
      perLang[lang] = `recall ${r3(x.recall)} fpr ${r3(x.fpr)}`;
    }
    progress(
      `  per language: ${Object.entries(perLang)
        .map(([l, v]) => `${l} ${v}`)
        .join('; ')}`,
    );

    const pii = redactionRecall('pii');
    const secrets = redactionRecall('secret');
    const benign = rows.filter((row) => row.label === 'benign');
    const flagged = (test: (kind: RedactionKind) => boolean): number =>
      benign.filter((row) => findSensitive(row.text).some((finding) => test(finding.kind))).length /
      Math.max(1, benign.length);
    const piiFlag = flagged(isPii);
    const secretFlag = flagged((kind) => !isPii(kind));
    progress(
      `pii: recall ${r3(pii.recall)} over ${pii.cases} cases; secrets: recall ${r3(secrets.recall)} over ${secrets.cases}`,
    );

    const benignDocs = documents(
      rows.filter((row) => row.label === 'benign'),
      DOCUMENTS,
    );
    const attackDocs = documents(
      rows.filter((row) => row.label === 'attack'),
      DOCUMENTS,
    );
    /** The median of one pass: every document scanned PASSES times, each call timed. */
    const timeCalls = (docs: readonly string[], detect: (text: string) => unknown): number => {
      const samples: number[] = [];
      for (let pass = 0; pass < PASSES; pass++) {
        for (const doc of docs) {
          const t = performance.now();
          detect(doc);
          samples.push(performance.now() - t);
        }
      }
      samples.sort((a, b) => a - b);
      return percentile(samples, 0.5) * 1000;
    };
    const injectionScan = (text: string): unknown => detector.detect(text, 'user_prompt');
    const scan = await repeat(async () => Promise.resolve(timeCalls(benignDocs, injectionScan)), {
      warmup: 2,
      repeats: 7,
    });
    const scanAttack = await repeat(async () => Promise.resolve(timeCalls(attackDocs, injectionScan)), {
      warmup: 1,
      repeats: 5,
    });
    progress(`scan p50: ${scan.median.toFixed(1)} µs benign 2 KB, ${scanAttack.median.toFixed(1)} µs attack 2 KB`);

    // The PII and secrets detector on its own corpus.
    const sensitiveRows = readJsonl<SensitiveRow>(SENSITIVE_DIR);
    const sensitive = createSensitiveDetector();
    const sensitiveStarted = performance.now();
    const sens = evaluateSensitive(sensitive, sensitiveRows);
    const sensitiveMs = performance.now() - sensitiveStarted;
    const s = rates(sens.all);
    const positives = sensitiveRows.filter((row) => row.label === 'sensitive').length;
    progress(
      `sensitive corpus: ${sensitiveRows.length} texts (${positives} sensitive, ${sensitiveRows.length - positives} benign)`,
    );
    progress(
      `sensitive: precision ${r3(s.precision)}, recall ${r3(s.recall)}, FPR ${r3(s.fpr)}; recall pii ${r3(sens.pii)}, secrets ${r3(sens.secrets)}; kinds ${r3(sens.kinds)}`,
    );
    const perChannel: Record<string, string> = {};
    for (const [channel, c] of [...sens.byChannel].sort()) {
      const x = rates(c);
      perChannel[channel] = `recall ${r3(x.recall)} fpr ${r3(x.fpr)}`;
    }
    const sensitiveScan = (text: string): unknown => sensitive.detect(text, 'user_prompt');
    const denseDocs = documents(
      sensitiveRows.filter((row) => row.label === 'benign'),
      DOCUMENTS,
    );
    const positiveDocs = documents(
      sensitiveRows.filter((row) => row.label === 'sensitive'),
      DOCUMENTS,
    );
    const sensitiveDense = await repeat(async () => Promise.resolve(timeCalls(denseDocs, sensitiveScan)), {
      warmup: 2,
      repeats: 7,
    });
    const sensitivePositive = await repeat(async () => Promise.resolve(timeCalls(positiveDocs, sensitiveScan)), {
      warmup: 1,
      repeats: 5,
    });
    const sensitiveProse = await repeat(async () => Promise.resolve(timeCalls(benignDocs, sensitiveScan)), {
      warmup: 1,
      repeats: 5,
    });
    progress(
      `sensitive p50: ${sensitiveDense.median.toFixed(1)} µs benign 2 KB (logs, code, configs), ${sensitivePositive.median.toFixed(1)} µs sensitive 2 KB, ${sensitiveProse.median.toFixed(1)} µs prose 2 KB`,
    );

    const behaviour = evaluateBehaviour(7);
    for (const [type, b] of Object.entries(behaviour))
      progress(
        `${type}: recall ${r3(b.recall)} of ${b.scenarios} scenarios, FPR ${b.fpr.toExponential(2)}, precision ${r3(b.precision)}`,
      );
    const behaviourMetrics = Object.fromEntries(
      Object.entries(behaviour).flatMap(([type, b]) => [
        [`recall_${type}`, { value: r3(b.recall), unit: 'ratio' }],
        [`fpr_${type}`, { value: Number(b.fpr.toPrecision(3)), unit: 'ratio' }],
        [`precision_${type}`, { value: r3(b.precision), unit: 'ratio' }],
      ]),
    );

    return {
      metrics: {
        ...behaviourMetrics,
        recall_injection: { value: r3(f.recall), unit: 'ratio' },
        fpr_injection: { value: r3(f.fpr), unit: 'ratio' },
        precision_injection: { value: r3(f.precision), unit: 'ratio' },
        recall_injection_holdout: { value: r3(h.recall), unit: 'ratio' },
        fpr_injection_holdout: { value: r3(h.fpr), unit: 'ratio' },
        recall_injection_rules: { value: r3(r.recall), unit: 'ratio' },
        fpr_injection_rules: { value: r3(r.fpr), unit: 'ratio' },
        recall_pii: { value: r3(pii.recall), unit: 'ratio' },
        recall_secrets: { value: r3(secrets.recall), unit: 'ratio' },
        flag_rate_pii_benign: { value: r3(piiFlag), unit: 'ratio' },
        flag_rate_secrets_benign: { value: r3(secretFlag), unit: 'ratio' },
        scan_us_p50: { value: Math.round(scan.median * 10) / 10, unit: 'µs' },
        scan_us_p50_attack: { value: Math.round(scanAttack.median * 10) / 10, unit: 'µs' },
        recall_sensitive: { value: r3(s.recall), unit: 'ratio' },
        fpr_sensitive: { value: r3(s.fpr), unit: 'ratio' },
        precision_sensitive: { value: r3(s.precision), unit: 'ratio' },
        recall_pii_corpus: { value: r3(sens.pii), unit: 'ratio' },
        recall_secrets_corpus: { value: r3(sens.secrets), unit: 'ratio' },
        kind_recall_sensitive: { value: r3(sens.kinds), unit: 'ratio' },
        sensitive_us_p50: { value: Math.round(sensitiveDense.median * 10) / 10, unit: 'µs' },
        sensitive_us_p50_positive: { value: Math.round(sensitivePositive.median * 10) / 10, unit: 'µs' },
        sensitive_us_p50_prose: { value: Math.round(sensitiveProse.median * 10) / 10, unit: 'µs' },
      },
      params: {
        corpus_texts: rows.length,
        corpus_attacks: attacks,
        holdout_texts: holdout.length,
        holdout_share: share,
        rule_pack: `${detector.rules.pack}.v${detector.rules.version}`,
        rules: detector.rules.rules.length,
        patterns: detector.rules.patterns.length,
        model: detector.model !== null,
        scan_documents: benignDocs.length,
        scan_document_bytes: 2048,
        scan_calls_per_repeat: DOCUMENTS * PASSES,
        corpus_pass_ms: Math.round(evalMs),
        per_language: perLang,
        sensitive_corpus_texts: sensitiveRows.length,
        sensitive_corpus_positives: positives,
        sensitive_rule_pack: `${sensitive.pack.pack}.v${sensitive.pack.version}`,
        sensitive_rules_enabled: sensitive.pack.rules.filter((rule) => rule.enabled).length,
        sensitive_corpus_pass_ms: Math.round(sensitiveMs),
        sensitive_per_channel: perChannel,
        behaviour_traffic: 'demo scenarios + 40,000 benign fleet events, seed 7 (services/cli/src/demo/traffic.ts)',
      },
      noisy: machineBusy() || scan.cv > 0.25 || sensitiveDense.cv > 0.25,
    };
  },
};

export default bench;

import OpenAI from 'openai';
import { register } from '@aispm/shim';
import { machineBusy, median, percentile, repeat, type Benchmark } from './harness.ts';
import { shimImportTimes, shimInstallFootprint } from './support/shim-footprint.ts';

/**
 * One chat completion through the real openai SDK and a fake fetch (no network),
 * instrumented and not, interleaved call by call so both see the same machine
 * state. The shim runs with its real queue; its exporter discards batches, so
 * the figure is the in-call cost the app pays (span, attributes, redaction),
 * not export work, which happens off the call path.
 */
const CALLS = 4000;
/** Fresh processes timed importing the shim (shim_import_ms is their median). */
const IMPORTS = 10;
const body = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, message: { role: 'assistant', content: 'The total is $42.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 31, completion_tokens: 9, total_tokens: 40 },
});
const fakeFetch = (() =>
  Promise.resolve(
    new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }),
  )) as typeof fetch;
const request = {
  model: 'gpt-4o',
  messages: [{ role: 'user' as const, content: 'What does bob@example.com owe on invoice 1234?' }],
};

const bench: Benchmark = {
  description:
    'shim overhead per openai chat.completions.create call (fake fetch), instrumented vs not; install size and import time',
  async run(progress) {
    // Footprint first, before this process loads the shim and its SDKs.
    const footprint = await shimInstallFootprint();
    progress(
      `install: ${(footprint.bytes / 1e6).toFixed(1)} MB in ${footprint.packages} packages; largest ` +
        footprint.largest.map(([name, bytes]) => `${name} ${(bytes / 1e6).toFixed(1)} MB`).join(', '),
    );
    const imports = await shimImportTimes(IMPORTS);
    const importMs = median(imports);
    progress(`import: median ${importMs.toFixed(0)} ms over ${IMPORTS} fresh processes`);
    const shim = register({
      service: 'bench',
      exporter: { kind: 'custom', exporter: { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} } },
      warn: () => undefined,
    });
    const plain = new OpenAI({ apiKey: 'sk-bench', fetch: fakeFetch, maxRetries: 0 });
    const traced = shim.instrument(new OpenAI({ apiKey: 'sk-bench', fetch: fakeFetch, maxRetries: 0 }));
    const once = async (): Promise<{ p50: number; p99: number }> => {
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < CALLS; i++) {
        let t = performance.now();
        await plain.chat.completions.create(request);
        a.push(performance.now() - t);
        t = performance.now();
        await traced.chat.completions.create(request);
        b.push(performance.now() - t);
      }
      a.sort((x, y) => x - y);
      b.sort((x, y) => x - y);
      return {
        p50: (percentile(b, 0.5) - percentile(a, 0.5)) * 1000,
        p99: (percentile(b, 0.99) - percentile(a, 0.99)) * 1000,
      };
    };
    const p99s: number[] = [];
    const p50 = await repeat(
      async () => {
        const r = await once();
        p99s.push(r.p99);
        progress(`overhead p50 ${r.p50.toFixed(1)} µs, p99 ${r.p99.toFixed(1)} µs`);
        return r.p50;
      },
      { warmup: 1, repeats: 5 },
    );
    await shim.shutdown();
    return {
      metrics: {
        overhead_us_p50: { value: Math.round(p50.median * 10) / 10, unit: 'µs' },
        shim_install_mb: { value: Math.round(footprint.bytes / 1e5) / 10, unit: 'MB' },
        shim_import_ms: { value: Math.round(importMs), unit: 'ms' },
        // p99s[0] is the warm-up's.
        overhead_us_p99: { value: Math.round(median(p99s.slice(1)) * 10) / 10, unit: 'µs' },
      },
      params: {
        calls_per_repeat: CALLS,
        repeats: 5,
        warmup_repeats: 1,
        capture: 'redacted',
        import_processes: IMPORTS,
        install_packages: footprint.packages,
        install_largest_mb: Object.fromEntries(footprint.largest.map(([n, b]) => [n, Math.round(b / 1e5) / 10])),
      },
      noisy: machineBusy() || p50.cv > 0.25,
    };
  },
};

export default bench;

import { createReadStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import {
  CONTENT_CHANNELS,
  createInjectionDetector,
  createSensitiveDetector,
  DETECT_DEFAULTS,
  type ContentChannel,
  type InjectionDetector,
  type SensitiveDetector,
  type InjectionVerdict,
  type Logger,
} from '@aispm/core';
import { positiveNumber, UsageError } from '../usage.ts';

export const SCAN_HELP = `Usage: aispm scan [options] [file]

Scans texts for prompt injection and jailbreaks, and for PII and secrets, with
the rule packs and the learned scorer the shim and the gateway use. Reads JSON lines from <file> (or
stdin when there is none or it is "-"), each {"text": "...", "channel": "..."}
with an optional "id", and writes one JSON verdict per line, in order:

  {"line":1,"id":"…","score":0.97,"label":"attack","detections":[{"detector":"injection",
   "rule":"inj.override.ignore_previous","kind":"instruction_override","severity":"critical","score":0.9,
   "excerpt":"…","offsets":[0,37],"via":"text"}],"sensitive":1,
   "frameworks":{"owaspLlm":["LLM01"],"owaspAgentic":["ASI01"],"atlas":["AML.T0051.000"]},"truncated":false}

score and label are the injection verdict's; "sensitive" counts the PII and
secrets found (each among the detections, detector "sensitive").

A line that is not such an object gets {"line":N,"error":"…"} instead and a
message on stderr; the scan goes on and exits 0. Excerpts are redacted: no PII
or secret from the text is printed.

Channels: ${CONTENT_CHANNELS.join(', ')} (user_prompt is a direct injection's
channel; tool_output and retrieved_doc carry indirect ones).

Options:
  --channel <c>          channel of lines that name none (default user_prompt)
  --max-line-bytes <n>   longest input line accepted (default 1048576)
  --max-text-bytes <n>   bytes of each text scanned; the rest is skipped and the verdict says
                         "truncated" (default ${DETECT_DEFAULTS.maxBytes})
  --rules <file>         rule pack (default rules/injection/injection.v1.json)
  --model <file>         learned scorer weights (default rules/injection/model.v2.json)
  --no-model             rules only
  --no-sensitive         skip the PII and secrets detector
  -h, --help             show this help`;

interface ScanOptions {
  channel: ContentChannel;
  maxLineBytes: number;
  maxTextBytes: number;
  /** The PII and secrets detector, or null when skipped. */
  sensitive?: SensitiveDetector | null;
}

export async function scanCommand(argv: string[], _log: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      channel: { type: 'string', default: 'user_prompt' },
      'max-line-bytes': { type: 'string', default: String(1 << 20) },
      'max-text-bytes': { type: 'string', default: String(DETECT_DEFAULTS.maxBytes) },
      rules: { type: 'string' },
      model: { type: 'string' },
      'no-model': { type: 'boolean', default: false },
      'no-sensitive': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${SCAN_HELP}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('scan reads one file (or stdin)');
  const channel = values.channel;
  if (!isChannel(channel))
    throw new UsageError(`--channel expects one of ${CONTENT_CHANNELS.join(', ')}, got "${channel}"`);
  const maxTextBytes = positiveNumber('--max-text-bytes', values['max-text-bytes']);
  const options: ScanOptions = {
    channel,
    maxLineBytes: positiveNumber('--max-line-bytes', values['max-line-bytes']),
    maxTextBytes,
    sensitive: values['no-sensitive'] ? null : createSensitiveDetector({ maxChars: maxTextBytes }),
  };
  const detector = createInjectionDetector({
    ...(values.rules ? { rules: values.rules } : {}),
    model: values['no-model'] ? null : (values.model ?? undefined),
  });
  const file = positionals[0];
  const input = file === undefined || file === '-' ? process.stdin : createReadStream(file);
  await scanStream(input, process.stdout, detector, options);
  return 0;
}

const isChannel = (value: unknown): value is ContentChannel =>
  typeof value === 'string' && (CONTENT_CHANNELS as readonly string[]).includes(value);

/** Progress on stderr, only where a person watches it: a terminal. */
function progress(): { tick: (counts: Counts) => void; done: (counts: Counts) => void } {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  const line = (c: Counts): string =>
    `scanned ${c.lines.toLocaleString('en-US')} lines: ${c.attack} attack, ${c.suspicious} suspicious, ${c.errors} errors`;
  return {
    tick: (counts) => {
      const now = Date.now();
      if (!tty || now - last < 500) return;
      last = now;
      process.stderr.write(`\r${line(counts)}`);
    },
    done: (counts) => {
      if (tty && last > 0) process.stderr.write(`\r${line(counts)}\n`);
    },
  };
}

interface Counts {
  lines: number;
  attack: number;
  suspicious: number;
  errors: number;
}

/**
 * Reads `input` line by line without holding more than one line (at most
 * maxLineBytes of it), writes a verdict per line to `output`, and waits for
 * `output` to drain when it is behind, so a large input streams in bounded memory.
 */
export async function scanStream(
  input: Readable,
  output: Writable,
  detector: InjectionDetector,
  options: ScanOptions,
): Promise<Counts> {
  const counts: Counts = { lines: 0, attack: 0, suspicious: 0, errors: 0 };
  const report = progress();
  /** The physical line number, blank lines included, so an error points at the right line. */
  let lineNo = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  const write = async (record: unknown): Promise<void> => {
    if (!output.write(`${JSON.stringify(record)}\n`)) await new Promise((resolve) => output.once('drain', resolve));
  };
  const finishLine = async (): Promise<void> => {
    lineNo++;
    const raw = overflow ? null : Buffer.concat(parts, size).toString('utf8');
    parts = [];
    size = 0;
    const wasOverflow = overflow;
    overflow = false;
    if (raw !== null && raw.trim() === '') return;
    counts.lines++;
    const result = wasOverflow
      ? { ok: false as const, error: `line longer than ${options.maxLineBytes} bytes (--max-line-bytes)` }
      : scanLine(raw!, detector, options);
    if (!result.ok) {
      counts.errors++;
      process.stderr.write(`aispm scan: line ${lineNo}: ${result.error}\n`);
      await write({ line: lineNo, error: result.error });
    } else {
      if (result.label === 'attack') counts.attack++;
      else if (result.label === 'suspicious') counts.suspicious++;
      await write({ line: lineNo, ...result.record });
    }
    report.tick(counts);
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const newline = buffer.indexOf(10, start);
      const end = newline < 0 ? buffer.length : newline;
      if (!overflow) {
        if (size + end - start > options.maxLineBytes) {
          // Too long: forget what was kept and skip to the line's end, whatever its size.
          overflow = true;
          parts = [];
          size = 0;
        } else if (end > start) {
          parts.push(buffer.subarray(start, end));
          size += end - start;
        }
      }
      if (newline < 0) break;
      await finishLine();
      start = newline + 1;
    }
  }
  if (size > 0 || overflow) await finishLine();
  report.done(counts);
  return counts;
}

type LineResult =
  { ok: false; error: string } | { ok: true; label: InjectionVerdict['label']; record: Record<string, unknown> };

function scanLine(raw: string, detector: InjectionDetector, options: ScanOptions): LineResult {
  let row: unknown;
  try {
    row = JSON.parse(raw);
  } catch (err) {
    return { ok: false, error: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row))
    return { ok: false, error: 'expected a JSON object {"text": …}' };
  const { text, channel, id } = row as { text?: unknown; channel?: unknown; id?: unknown };
  if (typeof text !== 'string') return { ok: false, error: '"text" must be a string' };
  if (channel !== undefined && !isChannel(channel)) {
    return { ok: false, error: `"channel" must be one of ${CONTENT_CHANNELS.join(', ')}` };
  }
  const verdict = detector.detect(text, channel ?? options.channel, { maxBytes: options.maxTextBytes });
  const sensitive = options.sensitive?.detect(text, channel ?? options.channel) ?? [];
  const record = {
    ...(typeof id === 'string' || typeof id === 'number' ? { id: String(id) } : {}),
    score: verdict.score,
    label: verdict.label,
    detections: [
      ...verdict.signals.map((signal) => ({
        detector: 'injection',
        rule: signal.id,
        kind: signal.kind,
        severity: signal.severity,
        score: signal.score,
        excerpt: signal.excerpt,
        offsets: signal.offsets,
        via: signal.via,
      })),
      ...sensitive.map((d) => ({
        detector: d.detector,
        rule: d.rule,
        kind: d.kind,
        severity: d.severity,
        score: d.score,
        excerpt: d.excerpt,
        offsets: [d.start, d.end],
        via: d.via,
      })),
    ],
    sensitive: sensitive.length,
    frameworks: verdict.frameworks,
    truncated: verdict.truncated,
  };
  return { ok: true, label: verdict.label, record };
}

import { createContentScanner, injectionTextDetector, type ContentScanner, type TextDetector } from './scanner.ts';
import { createInjectionDetector } from './detect.ts';
import { createSensitiveDetector } from './sensitive/detect.ts';
import type { InjectionVerdict } from './types.ts';

/** The `capture.detect` section of the configuration (AISPM_DETECT*): plain data, so it crosses to decode workers. */
export interface ContentDetectOptions {
  enabled: boolean;
  /** Bytes of each text scanned at most (UTF-8). */
  maxBytes: number;
}

export const CONTENT_DETECT_DEFAULTS: ContentDetectOptions = { enabled: true, maxBytes: 32_768 };

const NONE: ContentScanner = { scan: () => [], scanText: () => [] };
/** One scanner per distinct options, per thread: rule packs and the model load once, on first use. */
const scanners = new Map<string, ContentScanner>();

/** The scanner the mapping runs for these options: the shipped rule packs and model, or none when detection is off. */
export function contentScannerFor(options: ContentDetectOptions = CONTENT_DETECT_DEFAULTS): ContentScanner {
  if (!options.enabled) return NONE;
  const key = `${options.maxBytes}`;
  let scanner = scanners.get(key);
  if (!scanner) {
    scanner = createContentScanner(defaultTextDetectors(options));
    scanners.set(key, scanner);
  }
  return scanner;
}

function defaultTextDetectors(options: ContentDetectOptions): TextDetector[] {
  const injection = createInjectionDetector();
  const bounded = {
    ...injection,
    detect: (text: string, channel?: Parameters<typeof injection.detect>[1]): InjectionVerdict =>
      injection.detect(text, channel, { maxBytes: options.maxBytes }),
  };
  const sensitive = createSensitiveDetector({ maxChars: options.maxBytes });
  return [
    injectionTextDetector(bounded),
    { id: 'sensitive', detect: (text, channel) => sensitive.detect(text, channel) },
  ];
}

/**
 * Loads the detectors' rule packs and model now and runs them once, so that the
 * first request after start does not pay for it (the gateway and each decode
 * worker call this before they take requests).
 */
export function warmContentScanner(options: ContentDetectOptions = CONTENT_DETECT_DEFAULTS): void {
  contentScannerFor(options).scanText('Please summarise the attached report, ignore the appendix.', 'user_prompt', '');
}

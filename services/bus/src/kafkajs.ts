import { createRequire } from 'node:module';
import { AispmError } from '@aispm/core';
import type * as Kafkajs from 'kafkajs';
import { fastEncoder, recordBatchCrc32c, type EncoderClass } from './kafkajs-encoding.ts';
import { groupMessagesPerPartition } from './kafkajs-grouping.ts';
import { fixKafkajsRequestQueue, scheduleCheckPendingRequests } from './kafkajs-request-queue.ts';

/**
 * kafkajs, loaded with this project's fixes in place. Code that runs kafkajs
 * (the bus, the changelog) takes it from here rather than importing 'kafkajs':
 * kafkajs's modules take the replaced ones when they load, so the replacements
 * must be in the module cache first.
 */
const require = createRequire(import.meta.url);

/** kafkajs's modules this project replaces, by fix: id under kafkajs/src/. */
const REPLACED = {
  linearGrouping: 'producer/groupMessagesPerPartition.js',
  fastEncoder: 'protocol/encoder.js',
  fastCrc32c: 'protocol/recordBatch/crc32C/index.js',
} as const;
const REQUEST_QUEUE = 'network/requestQueue/index.js';

/** What each replaced module's exports were set to, by module id. */
const replacements = new Map<string, unknown>();

/**
 * Puts `replace(original)` in the module cache as kafkajs's module `id`. False,
 * leaving kafkajs as it is, when the module that takes it (`loadedBy`, the module
 * itself by default) already loaded (something imported 'kafkajs' first, e.g. a
 * test), or when the module's source lacks `marker`: it is not the code replaced.
 */
function replaceModule<T>(id: string, marker: string, replace: (original: T) => unknown, loadedBy = id): boolean {
  if (require.cache[require.resolve(`kafkajs/src/${loadedBy}`)]) return false;
  const path = require.resolve(`kafkajs/src/${id}`);
  const original = require(path) as T;
  const cached = require.cache[path];
  if (!cached || !String(original).includes(marker)) return false;
  cached.exports = replace(original);
  replacements.set(id, cached.exports);
  return true;
}

/** Which fixes are active in this process (tests check them). */
export const kafkajsFixes = {
  // kafkajs-grouping.ts: linear instead of quadratic, taken by the producer's sendMessages.js.
  linearGrouping: replaceModule(
    REPLACED.linearGrouping,
    '[...current, message]',
    () => groupMessagesPerPartition,
    'producer/sendMessages.js',
  ),
  // kafkajs-encoding.ts: an Encoder without zero-filling that writes varints in place and
  // joins nested encoders by reference, and a faster CRC32C.
  fastEncoder: replaceModule<EncoderClass>(
    REPLACED.fastEncoder,
    'this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))',
    fastEncoder,
  ),
  fastCrc32c: replaceModule(REPLACED.fastCrc32c, 'unsigned(crc32C(buffer))', () => recordBatchCrc32c),
  requestQueue: false,
};

export const kafkajs = require('kafkajs') as typeof Kafkajs;
kafkajsFixes.requestQueue = fixKafkajsRequestQueue();

/** The version of kafkajs the fixes are written against: the bus's exact pin. */
export const KAFKAJS_REQUIRED = (require('../package.json') as { dependencies: { kafkajs: string } }).dependencies
  .kafkajs;

/** kafkajs's module `id` (under kafkajs/src/) as this process has it loaded. */
export type LoadedKafkajsModule = (id: string) => unknown;

const loadedModule: LoadedKafkajsModule = (id) => require.cache[require.resolve(`kafkajs/src/${id}`)]?.exports;

/**
 * Checks that every kafkajs replacement is in effect, looking at what kafkajs
 * itself loads (the module cache), not at what this module intended: aispm's
 * Kafka clients run only on the fixed kafkajs. Throws kafkajs_unpatched naming the
 * version found, the one required and the fixes missing. KafkaBus calls it, so a
 * process that would run Kafka on an unfixed kafkajs fails at start-up.
 */
export function verifyKafkajsFixes(
  loaded: LoadedKafkajsModule = loadedModule,
  found: string = (require('kafkajs/package.json') as { version: string }).version,
): void {
  const missing: string[] = [];
  for (const [fix, id] of Object.entries(REPLACED)) {
    const replacement = replacements.get(id);
    if (replacement === undefined || loaded(id) !== replacement) missing.push(`${fix} (kafkajs/src/${id})`);
  }
  const queue = loaded(REQUEST_QUEUE) as { prototype?: { scheduleCheckPendingRequests?: unknown } } | undefined;
  if (queue?.prototype?.scheduleCheckPendingRequests !== scheduleCheckPendingRequests)
    missing.push(`requestQueue (kafkajs/src/${REQUEST_QUEUE})`);
  if (missing.length === 0) return;
  throw new AispmError(
    'kafkajs_unpatched',
    `kafkajs ${found} is installed and aispm requires kafkajs ${KAFKAJS_REQUIRED} exactly; these fixes did not apply: ` +
      `${missing.join(', ')}. ` +
      (found === KAFKAJS_REQUIRED
        ? "something loaded 'kafkajs' before @aispm/bus did: load kafkajs through @aispm/bus (its kafkajs export)"
        : `install kafkajs@${KAFKAJS_REQUIRED} (npm ci restores the pinned version)`),
  );
}

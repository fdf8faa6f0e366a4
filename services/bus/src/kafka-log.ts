import type { logCreator } from 'kafkajs';
import { kafkajs } from './kafkajs.ts';
import type { BusLog } from './log.ts';

/**
 * kafkajs log entries → a BusLog. The client is created at level WARN, so only
 * warnings and errors arrive here. Broker error responses are left out: kafkajs logs
 * each as it arrives, then retries the request or throws to its caller, who reports it.
 */
export function kafkajsLogCreator(log: BusLog): logCreator {
  return () =>
    ({ namespace, level, log: entry }) => {
      if (namespace === 'Connection' && entry.message.startsWith('Response ')) return;
      const details = Object.entries(entry).filter(([name]) => !LEFT_OUT.has(name));
      const extra = details.length > 0 ? ` ${JSON.stringify(Object.fromEntries(details))}` : '';
      log(`kafkajs ${namespace}: ${entry.message}${extra}`, level === kafkajs.logLevel.ERROR ? 'error' : 'warn');
    };
}

/** Fields the message already covers, or that add only noise to one line (stack traces). */
const LEFT_OUT = new Set(['message', 'timestamp', 'logger', 'stack']);

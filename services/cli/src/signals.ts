/**
 * Turns the first Ctrl-C (SIGINT) or SIGTERM into an abort, so a command can stop
 * producing, flush and close; a second one exits at once.
 */
export function abortOnSignals(onFirst: (signal: NodeJS.Signals) => void): AbortSignal {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.stderr.write(`\n${signal} again: exiting without flushing\n`);
      process.exit(130);
    }
    onFirst(signal);
    controller.abort(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return controller.signal;
}

import cliProgress from 'cli-progress';

/** A progress bar on stderr; on a non-terminal (CI, a pipe) it prints a line every few seconds instead. */
export interface Progress {
  update(done: number, fields: Record<string, string | number>): void;
  stop(): void;
}

export function progressBar(total: number, label: string): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} {bar} {percentage}% | {value}/{total} events | stored {stored} | {rate} ev/s | {eta_formatted} left`,
      noTTYOutput: true,
      notTTYSchedule: 3000,
      hideCursor: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { stored: 0, rate: 0 });
  return {
    update: (done, fields) => bar.update(done, fields),
    stop: () => bar.stop(),
  };
}

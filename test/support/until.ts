/**
 * Polls `condition` until it holds; past `timeoutMs` it fails, naming what it
 * waited for and, from `context`, what the test saw last (a child's logs, say).
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 60_000, everyMs = 50, context }: { timeoutMs?: number; everyMs?: number; context?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${context ? `; ${context()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

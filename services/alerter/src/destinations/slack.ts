import { z } from 'zod';
import type { Destination, Notification } from '../notification.ts';
import { classifyAnswer, excerpt, noAnswerResult, request } from './http.ts';
import { durationMs, parseOptions, resolveSecret, secretRef, type DestinationConfig } from './options.ts';
import { truncate } from './text.ts';
import { destinationOptionError } from './errors.ts';

/**
 * A Slack incoming webhook: one message per notification, summarising the group.
 * The webhook URL is itself the secret, so it comes from url_env or url_file.
 */
export const slackOptions = z.object({
  url_env: secretRef.env,
  url_file: secretRef.file,
  /** Findings listed by name; the rest are counted. */
  max_findings: z.number().int().min(1).max(40).default(10),
  timeout_ms: durationMs(10_000),
});

/** Slack's control characters in text (api.slack.com, "Formatting text"): &, < and >. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const ICON = { firing: ':rotating_light:', resolved: ':white_check_mark:' } as const;

/** The message for a notification; pure. Sections stay within Slack's 3000-character text limit. */
export function slackMessage(notification: Notification, maxFindings: number): { text: string; blocks: unknown[] } {
  const n = notification.findings.length;
  const labels = Object.entries(notification.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const title = `${ICON[notification.status]} ${notification.status === 'firing' ? 'Firing' : 'Resolved'}: ${n} finding${
    n === 1 ? '' : 's'
  } · ${notification.route} · tenant ${notification.tenant}${labels ? ` · ${labels}` : ''}`;
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: truncate(slackEscape(title), 3000) } }];
  for (const f of notification.findings.slice(0, maxFindings)) {
    const link = notification.linkOf?.(f);
    const line = `*[${f.severity}]* ${slackEscape(f.title)} — ${slackEscape(f.asset)} (${f.status})${
      link ? ` <${link.replace(/[<>|]/g, encodeURIComponent)}|open in Grafana>` : ''
    }`;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(line, 3000) } });
  }
  if (n > maxFindings)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${n - maxFindings} more` }] });
  return { text: truncate(slackEscape(title), 3000), blocks };
}

export function createSlack(
  config: DestinationConfig,
  env: NodeJS.ProcessEnv,
  deps: { now?: () => number } = {},
): Destination {
  const options = parseOptions(config, slackOptions, ['url']);
  const url = resolveSecret(config.name, 'url', { env: options.url_env, file: options.url_file }, env, true);
  if (!/^https?:\/\//.test(url)) {
    throw destinationOptionError(
      config.name,
      options.url_env ? 'url_env' : 'url_file',
      'the Slack webhook URL must start with https://',
    );
  }
  const now = deps.now ?? Date.now;
  const what = `Slack destination ${config.name}`;
  return {
    name: config.name,
    kind: 'slack',
    async send(notification, signal) {
      const body = JSON.stringify(slackMessage(notification, options.max_findings));
      const outcome = await request({
        url,
        headers: { 'content-type': 'application/json' },
        body,
        timeoutMs: options.timeout_ms,
        signal,
      });
      if (outcome.kind !== 'answer') return noAnswerResult(what, outcome, options.timeout_ms);
      return classifyAnswer(what, outcome.status, outcome.headers, { now: now(), detail: excerpt(outcome.body) });
    },
    async close() {},
  };
}

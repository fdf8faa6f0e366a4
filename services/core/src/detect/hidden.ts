import type { Payload } from './decoders.ts';

/**
 * Two ways content hides from the human reading it: a markdown image (or link)
 * whose URL carries data out when the client renders it, and HTML text a browser
 * does not show (display:none, zero font size, white on white, comments). Both
 * are found with bounded regexes over the text; hidden text is returned as a
 * payload so the rules and the model read it too.
 */
export interface Finding {
  id: string;
  score: number;
  start: number;
  end: number;
}

// An image or link whose URL has a query or a long path; reference-style definitions too. Every repeat is bounded.
const MARKDOWN_URL =
  /(!?)\[[^\]\n]{0,200}\]\(\s*<?(https?:\/\/[^\s)>]{1,2048})|^\s{0,3}\[[^\]\n]{1,100}\]:\s*<?(https?:\/\/\S{1,2048})/gim;
const HTML_IMG = /<img\b[^>]{0,500}?\bsrc\s*=\s*["']?(https?:\/\/[^\s"'>]{1,2048})/gi;

/** Query values or path segments that carry data: long opaque runs, template slots, or data-naming words. */
const TEMPLATE_SLOT =
  /[{}[\]<>$]|%7b|%24|\b(?:insert|data|secret|history|conversation|chat|prompt|password|token|key|ssn|email|summary|memory|context|message)s?\b/i;
const OPAQUE = /[A-Za-z0-9+/=_%-]{32,}/;

export function markdownExfiltration(text: string, out: Finding[]): void {
  if (!text.includes('](') && !text.includes(']:') && !/<img/i.test(text)) return;
  for (const match of text.matchAll(MARKDOWN_URL)) {
    const image = match[1] === '!';
    const url = match[2] ?? match[3] ?? '';
    const carries = carriesData(url);
    if (carries === 0) continue;
    // A rendered image fetches its URL with no click: the stronger channel.
    const score = image || match[3] !== undefined ? (carries === 2 ? 0.9 : 0.6) : carries === 2 ? 0.55 : 0.3;
    out.push({
      id: image ? 'exfil.markdown_image' : 'exfil.markdown_link',
      score,
      start: match.index,
      end: match.index + match[0].length,
    });
  }
  for (const match of text.matchAll(HTML_IMG)) {
    const carries = carriesData(match[1]!);
    if (carries > 0)
      out.push({
        id: 'exfil.html_image',
        score: carries === 2 ? 0.9 : 0.6,
        start: match.index,
        end: match.index + match[0].length,
      });
  }
}

/** 2 when the URL's query or path has a template slot for data, 1 when it has a long opaque value, else 0. */
function carriesData(url: string): number {
  const query = url.indexOf('?');
  const values: string[] = [];
  if (query >= 0) for (const pair of url.slice(query + 1).split('&')) values.push(pair.slice(pair.indexOf('=') + 1));
  const path = url.slice(url.indexOf('/', 8) + 1, query >= 0 ? query : undefined);
  values.push(...path.split('/'));
  let best = 0;
  for (const value of values) {
    if (value.length === 0) continue;
    if (TEMPLATE_SLOT.test(decodeSafe(value)) && query >= 0 && url.indexOf(value, query) > 0) return 2;
    if (OPAQUE.test(value) && !/\.(?:png|jpe?g|gif|svg|webp|ico)$/i.test(value)) best = 1;
  }
  return best;
}

function decodeSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

// Inline styles that hide an element, the `hidden` attribute, and comments.
const HIDDEN_ELEMENT =
  /<([a-z][a-z0-9]{0,10})\b[^>]{0,300}?(?:style\s*=\s*["'][^"'>]{0,300}?(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:px|pt|em)?\s*[;"']|opacity\s*:\s*0(?:\.0+)?\s*[;"']|color\s*:\s*(?:#fff(?:fff)?|white|transparent)\b|(?:left|top|text-indent)\s*:\s*-\d{3,}|(?:height|width)\s*:\s*0(?:px)?\s*[;"'])|\bhidden\b(?!\s*=\s*["']?false)|aria-hidden\s*=\s*["']?true)[^>]{0,300}>([^<]{1,4096})/gi;
const COMMENT = /<!--([^]{1,4096}?)-->/g;

export function hiddenHtml(text: string, out: Finding[], payloads: Payload[]): void {
  if (!text.includes('<')) return;
  for (const match of text.matchAll(HIDDEN_ELEMENT)) {
    const inner = match[2]!.trim();
    if (inner.length < 8) continue;
    const start = match.index;
    const end = start + match[0].length;
    out.push({ id: 'obfuscation.hidden_html', score: 1, start, end });
    payloads.push({ via: 'hidden_html', start, end, text: inner });
  }
  for (const match of text.matchAll(COMMENT)) {
    const inner = match[1]!.trim();
    // Comments are common in documents; only their words are scanned, no signal of their own.
    if (inner.length >= 16 && /\s/.test(inner))
      payloads.push({ via: 'hidden_html', start: match.index, end: match.index + match[0].length, text: inner });
  }
}

/**
 * Model-name equivalence: when does the model that answered count as the one
 * asked for? Providers answer an alias with a dated snapshot (`gpt-4o` →
 * `gpt-4o-2024-08-06`, `claude-sonnet-4-5` → `claude-sonnet-4-5-20250929`); that is
 * the same model. A different family or size (`gpt-4o` → `gpt-4o-mini`) is not.
 *
 * canonicalModel strips, in order: case, a routing prefix (`openai/`, `models/`,
 * a Bedrock region and vendor `us.anthropic.`), a version tag (`:0`, `-v1:0`, `:latest`,
 * `@20240620`), then snapshot suffixes (`-2024-08-06`, `-20250929`, `-0613`,
 * `-002`, `-latest`, `-preview-05-06`). Deployment names that map onto models
 * (Azure) are not guessable: the rule's `equivalents` param lists them.
 */
const ROUTING_PREFIX = /^(?:[a-z0-9-]+\/)+/;
const BEDROCK_PREFIX = /^(?:(?:us|eu|apac|global)\.)?(?:anthropic|meta|mistral|amazon|cohere|ai21)\./;
const VERSION_TAG = /(?:-v\d+:\d+|:\d+|:latest)$/;
const VERTEX_DATE = /@\d{8}$/;
const SNAPSHOT_SUFFIXES: readonly RegExp[] = [
  /-latest$/,
  /-\d{4}-\d{2}-\d{2}$/, // OpenAI: gpt-4o-2024-08-06
  /-\d{8}$/, // Anthropic: claude-sonnet-4-5-20250929
  /-preview-\d{2}-\d{2}$/, // Gemini: gemini-2.5-pro-preview-05-06
  /-(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$/, // OpenAI MMDD: gpt-4-0613, gpt-3.5-turbo-0125
  /-0\d\d$/, // Gemini: gemini-1.5-pro-002
  /-2[3-9](?:0[1-9]|1[0-2])$/, // Mistral YYMM: mistral-large-2407
];

export function canonicalModel(name: string): string {
  let m = name.trim().toLowerCase().replace(ROUTING_PREFIX, '').replace(BEDROCK_PREFIX, '');
  m = m.replace(VERTEX_DATE, '').replace(VERSION_TAG, '');
  // At most one snapshot suffix: stripping repeatedly would eat into the name (`gpt-4-0613` is `gpt-4`, not `gpt`).
  for (const suffix of SNAPSHOT_SUFFIXES) {
    const next = m.replace(suffix, '');
    if (next !== m && next !== '') return next;
  }
  return m;
}

/** Whether `responded` is the model `requested` named: equal up to canonicalModel. */
export const sameModel = (requested: string, responded: string): boolean =>
  canonicalModel(requested) === canonicalModel(responded);

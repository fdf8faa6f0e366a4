import type { ToolRisk } from '@aispm/core';

/**
 * The demo's synthetic fleet: a company's AI apps, their agents, the tools each
 * agent uses and the models behind them. Profiles are medians of what such
 * agents typically consume; traffic is drawn around them.
 */
export interface ToolProfile {
  name: string;
  risk: ToolRisk;
  destination: string;
}

export interface AgentProfile {
  app: string;
  environment: string;
  agent: string;
  identity: string;
  scopes: string[];
  provider: string;
  model: string;
  endpoint: string;
  tools: ToolProfile[];
  users: string[];
  /** Share of the fleet's traffic. */
  weight: number;
  /** Human-driven agents follow office hours; batch agents do not. */
  diurnal: boolean;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
}

const users = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(3, '0')}`);

const tool = (name: string, risk: ToolRisk, destination: string): ToolProfile => ({ name, risk, destination });

const OPENAI = { provider: 'openai', endpoint: 'api.openai.com' };
const ANTHROPIC = { provider: 'anthropic', endpoint: 'api.anthropic.com' };
const GEMINI = { provider: 'gcp.gemini', endpoint: 'generativelanguage.googleapis.com' };
const BEDROCK = { provider: 'aws.bedrock', endpoint: 'bedrock-runtime.us-east-1.amazonaws.com' };

export const FLEET: readonly AgentProfile[] = [
  {
    app: 'support-copilot',
    environment: 'prod',
    agent: 'triage-bot',
    identity: 'svc-support@acme',
    scopes: ['kb:read', 'orders:read', 'tickets:write'],
    ...OPENAI,
    model: 'gpt-4o-mini',
    tools: [
      tool('search_kb', 'read', 'kb.acme.internal'),
      tool('lookup_order', 'read', 'orders.acme.internal'),
      tool('create_ticket', 'write', 'tickets.acme.internal'),
    ],
    users: users('cust', 400),
    weight: 24,
    diurnal: true,
    inputTokens: 900,
    outputTokens: 180,
    latencyMs: 850,
  },
  {
    app: 'support-copilot',
    environment: 'prod',
    agent: 'refund-agent',
    identity: 'svc-refunds@acme',
    scopes: ['orders:read', 'refunds:write', 'email:send'],
    ...OPENAI,
    model: 'gpt-4o',
    tools: [
      tool('lookup_order', 'read', 'orders.acme.internal'),
      tool('issue_refund', 'write', 'payments.acme.internal'),
      tool('send_email', 'egress', 'smtp.acme.internal'),
    ],
    users: users('cust', 400),
    weight: 8,
    diurnal: true,
    inputTokens: 1400,
    outputTokens: 220,
    latencyMs: 1300,
  },
  {
    app: 'code-assistant',
    environment: 'prod',
    agent: 'reviewer',
    identity: 'gh-app-reviewer',
    scopes: ['repo:read', 'checks:write', 'ci:run'],
    ...ANTHROPIC,
    model: 'claude-sonnet-4-5',
    tools: [tool('read_file', 'read', 'git.acme.internal'), tool('run_tests', 'execute', 'ci.acme.internal')],
    users: users('dev', 60),
    weight: 14,
    diurnal: true,
    inputTokens: 6000,
    outputTokens: 700,
    latencyMs: 4200,
  },
  {
    app: 'code-assistant',
    environment: 'prod',
    agent: 'refactor-agent',
    identity: 'gh-app-refactor',
    scopes: ['repo:read', 'repo:write', 'ci:run'],
    ...ANTHROPIC,
    model: 'claude-sonnet-4-5',
    tools: [
      tool('read_file', 'read', 'git.acme.internal'),
      tool('write_file', 'write', 'git.acme.internal'),
      tool('run_tests', 'execute', 'ci.acme.internal'),
    ],
    users: users('dev', 60),
    weight: 8,
    diurnal: true,
    inputTokens: 8000,
    outputTokens: 1500,
    latencyMs: 6500,
  },
  {
    app: 'sales-agent',
    environment: 'prod',
    agent: 'lead-researcher',
    identity: 'svc-sales@acme',
    scopes: ['crm:read', 'web:fetch'],
    ...OPENAI,
    model: 'gpt-4.1',
    tools: [tool('web_search', 'read', 'search.api.example'), tool('crm_lookup', 'read', 'crm.acme.internal')],
    users: users('rep', 25),
    weight: 10,
    diurnal: true,
    inputTokens: 3000,
    outputTokens: 400,
    latencyMs: 2100,
  },
  {
    app: 'sales-agent',
    environment: 'prod',
    agent: 'outreach-bot',
    identity: 'svc-sales@acme',
    scopes: ['crm:read', 'email:send'],
    ...OPENAI,
    model: 'gpt-4.1-mini',
    tools: [tool('crm_lookup', 'read', 'crm.acme.internal'), tool('send_email', 'egress', 'smtp.acme.internal')],
    users: users('rep', 25),
    weight: 7,
    diurnal: true,
    inputTokens: 1200,
    outputTokens: 350,
    latencyMs: 1100,
  },
  {
    app: 'hr-helpdesk',
    environment: 'prod',
    agent: 'policy-qa',
    identity: 'svc-hr@acme',
    scopes: ['hr-policies:read'],
    ...GEMINI,
    model: 'gemini-2.5-flash',
    tools: [tool('search_policies', 'read', 'hr.acme.internal')],
    users: users('emp', 300),
    weight: 12,
    diurnal: true,
    inputTokens: 2500,
    outputTokens: 300,
    latencyMs: 900,
  },
  {
    app: 'analytics-bot',
    environment: 'staging',
    agent: 'sql-analyst',
    identity: 'svc-analytics@acme',
    scopes: ['warehouse:read', 'exports:write', 'files:upload'],
    ...BEDROCK,
    model: 'anthropic.claude-3-5-haiku',
    tools: [tool('run_sql', 'read', 'warehouse.acme.internal'), tool('export_csv', 'egress', 'files.acme.internal')],
    users: ['svc-nightly', 'analyst-01', 'analyst-02'],
    weight: 9,
    diurnal: false,
    inputTokens: 2000,
    outputTokens: 250,
    latencyMs: 1600,
  },
  {
    app: 'analytics-bot',
    environment: 'staging',
    agent: 'report-writer',
    identity: 'svc-analytics@acme',
    scopes: ['warehouse:read'],
    ...BEDROCK,
    model: 'anthropic.claude-3-5-haiku',
    tools: [tool('run_sql', 'read', 'warehouse.acme.internal')],
    users: ['svc-nightly'],
    weight: 8,
    diurnal: false,
    inputTokens: 3500,
    outputTokens: 900,
    latencyMs: 2400,
  },
];

export function agentNamed(name: string): AgentProfile {
  const profile = FLEET.find((a) => a.agent === name);
  if (!profile) throw new Error(`no demo agent named ${name}`);
  return profile;
}

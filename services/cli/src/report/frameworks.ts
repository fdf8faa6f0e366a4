import type { ReportData } from './model.ts';

/** OWASP Top 10 for LLM Applications (2025), by id without the year. */
export const OWASP_LLM_NAMES: Readonly<Record<string, string>> = {
  LLM01: 'Prompt Injection',
  LLM02: 'Sensitive Information Disclosure',
  LLM03: 'Supply Chain',
  LLM04: 'Data and Model Poisoning',
  LLM05: 'Improper Output Handling',
  LLM06: 'Excessive Agency',
  LLM07: 'System Prompt Leakage',
  LLM08: 'Vector and Embedding Weaknesses',
  LLM09: 'Misinformation',
  LLM10: 'Unbounded Consumption',
};

/** OWASP Top 10 for Agentic Applications (2026). */
export const OWASP_AGENTIC_NAMES: Readonly<Record<string, string>> = {
  ASI01: 'Agent Goal Hijack',
  ASI02: 'Tool Misuse and Exploitation',
  ASI03: 'Identity and Privilege Abuse',
  ASI04: 'Agentic Supply Chain Vulnerabilities',
  ASI05: 'Unexpected Code Execution',
  ASI06: 'Memory and Context Poisoning',
  ASI07: 'Insecure Inter-Agent Communication',
  ASI08: 'Cascading Failures',
  ASI09: 'Human-Agent Trust Exploitation',
  ASI10: 'Rogue Agents',
};

/** MITRE ATLAS techniques that aispm's findings name. */
export const ATLAS_NAMES: Readonly<Record<string, string>> = {
  'AML.T0010': 'AI Supply Chain Compromise',
  'AML.T0010.003': 'AI Supply Chain Compromise: Model',
  'AML.T0024': 'Exfiltration via AI Inference API',
  'AML.T0025': 'Exfiltration via Cyber Means',
  'AML.T0029': 'Denial of AI Service',
  'AML.T0031': 'Erode AI Model Integrity',
  'AML.T0034': 'Cost Harvesting',
  'AML.T0034.002': 'Agentic Resource Consumption',
  'AML.T0040': 'AI Model Inference API Access',
  'AML.T0048': 'External Harms',
  'AML.T0051': 'LLM Prompt Injection',
  'AML.T0051.000': 'LLM Prompt Injection: Direct',
  'AML.T0051.001': 'LLM Prompt Injection: Indirect',
  'AML.T0053': 'AI Agent Tool Invocation',
  'AML.T0054': 'LLM Jailbreak',
  'AML.T0055': 'Unsecured Credentials',
  'AML.T0056': 'Extract LLM System Prompt',
  'AML.T0057': 'LLM Data Leakage',
  'AML.T0061': 'LLM Prompt Self-Replication',
  'AML.T0065': 'LLM Prompt Crafting',
  'AML.T0067': 'LLM Trusted Output Components Manipulation',
  'AML.T0068': 'LLM Prompt Obfuscation',
  'AML.T0069': 'Discover LLM System Information',
  'AML.T0077': 'LLM Response Rendering',
  'AML.T0080': 'AI Agent Context Poisoning',
  'AML.T0081': 'Modify AI Agent Configuration',
  'AML.T0083': 'Credentials from AI Agent Configuration',
  'AML.T0085': 'Data from AI Services',
  'AML.T0086': 'Exfiltration via AI Agent Tool Invocation',
  'AML.T0092': 'Manipulate User LLM Chat History',
  'AML.T0093': 'Prompt Infiltration via Public-Facing Application',
  'AML.T0098': 'AI Agent Tool Credential Harvesting',
  'AML.T0101': 'Data Destruction via AI Agent Tool Invocation',
  'AML.T0110': 'AI Agent Tool Poisoning',
};

/** The name of a framework id, or '' when not known (`LLM01:2025` → Prompt Injection). */
export function frameworkName(framework: 'owasp_llm' | 'owasp_agentic' | 'mitre_atlas', id: string): string {
  if (framework === 'owasp_llm') return OWASP_LLM_NAMES[id.split(':', 1)[0] ?? ''] ?? '';
  if (framework === 'owasp_agentic') return OWASP_AGENTIC_NAMES[id] ?? '';
  return ATLAS_NAMES[id] ?? '';
}

export const NIST_FUNCTIONS = ['Govern', 'Map', 'Measure', 'Manage'] as const;
export type NistFunction = (typeof NIST_FUNCTIONS)[number];

export const NIST_DESCRIPTIONS: Readonly<Record<NistFunction, string>> = {
  Govern: 'policies, accountability, inventory and oversight of AI risk are in place',
  Map: 'AI systems, their context, components and third parties are identified',
  Measure: 'AI risks are analysed, assessed, tracked and monitored',
  Manage: 'AI risks are prioritised, responded to and their treatment monitored',
};

export const EU_ARTICLES = ['Art. 9', 'Art. 10', 'Art. 12', 'Art. 13', 'Art. 14', 'Art. 15'] as const;
export type EuArticle = (typeof EU_ARTICLES)[number];

export const EU_DESCRIPTIONS: Readonly<Record<EuArticle, string>> = {
  'Art. 9': 'Risk management system',
  'Art. 10': 'Data and data governance',
  'Art. 12': 'Record-keeping (automatic logging of events)',
  'Art. 13': 'Transparency and provision of information to deployers',
  'Art. 14': 'Human oversight',
  'Art. 15': 'Accuracy, robustness and cybersecurity',
};

/** A control aispm evidences: what provides it, where it maps, and its live figure from the report's data. */
export interface Control {
  id: string;
  name: string;
  /** The aispm capability that provides the evidence. */
  capability: string;
  nist: readonly string[];
  eu: readonly EuArticle[];
  /** The live evidence, in words. */
  evidence: (data: ReportData) => string;
  /** Whether the figures show the control operating (evidence present) in the period. */
  operating: (data: ReportData) => boolean;
}

const count = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

const ofType = (data: ReportData, ...types: string[]): number =>
  data.findings.filter((f) => types.includes(f.type) || types.includes(f.rule.split('.', 1)[0] ?? '')).length;

export const CONTROLS: readonly Control[] = [
  {
    id: 'C1',
    name: 'AI asset inventory',
    capability:
      'inventory built from telemetry (assets table): apps, agents, models, providers, tools, MCP servers, identities, endpoints',
    nist: ['Govern 1.6', 'Map 1.1', 'Map 4.1'],
    eu: ['Art. 9', 'Art. 13'],
    evidence: (d) =>
      `${count(d.inventory.length, 'asset')} seen in the period (${count(
        new Set(d.inventory.map((a) => a.kind)).size,
        'kind',
      )}), ${count(d.inventory.filter((a) => a.owner !== null).length, 'asset')} with an owner`,
    operating: (d) => d.inventory.length > 0,
  },
  {
    id: 'C2',
    name: 'Approval policy and shadow AI',
    capability:
      'inventory policy (approved providers, models, apps, endpoints, MCP servers) and the shadow-AI detector',
    nist: ['Govern 1.1', 'Govern 6.1', 'Map 4.1'],
    eu: ['Art. 9'],
    evidence: (d) => {
      const judged = d.inventory.filter((a) => a.approval !== 'unjudged');
      return `${count(judged.length, 'asset')} judged by the policy: ${judged.filter((a) => a.approval === 'approved').length} approved, ${
        judged.filter((a) => a.approval === 'unapproved').length
      } unapproved; ${count(ofType(d, 'shadow_ai'), 'shadow-AI finding')}`;
    },
    operating: (d) => d.policyGiven,
  },
  {
    id: 'C3',
    name: 'Prompt injection and jailbreak detection',
    capability:
      'content detectors in the shim and gateway (direct and indirect injection, jailbreaks), guardrail verdicts',
    nist: ['Measure 2.7', 'Manage 2.4'],
    eu: ['Art. 15'],
    evidence: (d) =>
      `${count(d.events.withDetections, 'event')} with a content verdict; ${count(
        ofType(d, 'prompt_injection', 'jailbreak', 'guardrail'),
        'injection finding',
      )} in the period`,
    operating: (d) => d.events.total > 0,
  },
  {
    id: 'C4',
    name: 'Sensitive data and secrets protection',
    capability:
      'PII and secret detectors; capture policy (none / hash / redacted / full) applied before storage; evidence redacted',
    nist: ['Map 2.1', 'Measure 2.10'],
    eu: ['Art. 10'],
    evidence: (d) => {
      const kept = (d.events.byPolicy.none ?? 0) + (d.events.byPolicy.hash ?? 0) + (d.events.byPolicy.redacted ?? 0);
      return `${count(ofType(d, 'sensitive_data'), 'sensitive-data finding')} in the period; ${kept.toLocaleString('en')} of ${d.events.total.toLocaleString('en')} events stored without raw content (capture policy none, hash or redacted)`;
    },
    operating: (d) => d.events.total > 0,
  },
  {
    id: 'C5',
    name: 'Record-keeping of AI activity',
    capability:
      'every LLM call, tool call and agent action recorded as an OpenTelemetry-based event (events table), with trace attribution',
    nist: ['Govern 1.5', 'Measure 3.1'],
    eu: ['Art. 12'],
    evidence: (d) =>
      `${count(d.events.total, 'event')} in ${count(d.events.traces, 'trace')} recorded in the period (${count(
        d.events.toolCalls,
        'tool call',
      )}, ${count(d.events.errors, 'error')})`,
    operating: (d) => d.events.total > 0,
  },
  {
    id: 'C6',
    name: 'Behaviour monitoring, anomaly and drift detection',
    capability: 'per-agent and fleet baselines, anomaly scores with their reasons, drift reports (PSI, Jensen–Shannon)',
    nist: ['Measure 2.4', 'Measure 3.1', 'Manage 4.1'],
    eu: ['Art. 9', 'Art. 15'],
    evidence: (d) =>
      `${count(d.events.scored, 'event')} scored, ${count(d.events.anomalous, 'event')} at or above 0.8; ${count(
        d.events.driftReports,
        'drift report',
      )}; ${count(ofType(d, 'behaviour_anomaly', 'behaviour_drift'), 'anomaly or drift finding')} in the period`,
    operating: (d) => d.events.scored > 0,
  },
  {
    id: 'C7',
    name: 'Agency limits and toxic combinations',
    capability:
      'excessive-agency and toxic-combination detectors over tool calls, scopes and identities; exfiltration through tools',
    nist: ['Map 3.5', 'Manage 2.4'],
    eu: ['Art. 14', 'Art. 15'],
    evidence: (d) =>
      `${count(ofType(d, 'excessive_agency'), 'excessive-agency finding')}, ${count(
        ofType(d, 'toxic_combination'),
        'toxic-combination finding',
      )}, ${count(ofType(d, 'exfiltration'), 'exfiltration finding')} in the period`,
    operating: (d) => d.events.toolCalls > 0,
  },
  {
    id: 'C8',
    name: 'Model integrity',
    capability: 'silent model change detection (requested vs responding model, fingerprints) and model drift',
    nist: ['Map 4.1', 'Measure 2.5'],
    eu: ['Art. 13', 'Art. 15'],
    evidence: (d) =>
      `${count(d.inventory.filter((a) => a.kind === 'model').length, 'model')} in use; ${count(
        ofType(d, 'silent_model_change'),
        'silent model change',
      )} in the period`,
    operating: (d) => d.inventory.some((a) => a.kind === 'model'),
  },
  {
    id: 'C9',
    name: 'Cost and availability (denial of wallet)',
    capability: 'denial-of-wallet detector and token/latency baselines',
    nist: ['Measure 2.6', 'Manage 2.4'],
    eu: ['Art. 15'],
    evidence: (d) => `${count(ofType(d, 'denial_of_wallet'), 'denial-of-wallet finding')} in the period`,
    operating: (d) => d.events.total > 0,
  },
  {
    id: 'C10',
    name: 'Findings triage and human oversight',
    capability:
      'findings with severity, evidence and framework ids, routed to on-call and SIEMs by the alerter; posture actions ranked by gain',
    nist: ['Govern 4.3', 'Manage 1.3', 'Manage 4.3'],
    eu: ['Art. 14', 'Art. 9'],
    evidence: (d) => {
      const open = d.findings.filter((f) => f.status === 'open');
      return `${count(d.findings.length, 'finding')} in the period, ${open.length} still open (${
        open.filter((f) => f.severity === 'critical' || f.severity === 'high').length
      } critical or high); ${count(d.posture.actions.length, 'ranked action')} to raise the score`;
    },
    operating: () => true,
  },
  {
    id: 'C11',
    name: 'Posture scoring and periodic review',
    capability: 'posture score per tenant and asset (posture table, every minute) and this report',
    nist: ['Govern 1.5', 'Measure 1.1', 'Manage 4.1'],
    eu: ['Art. 9'],
    evidence: (d) =>
      `score ${d.posture.score.toFixed(1)}/100 now; ${count(d.trend.length, 'stored score')} in the period`,
    operating: (d) => d.trend.length > 0,
  },
];

/** The NIST function of a subcategory reference ("Measure 2.7" → Measure). */
export const nistFunctionOf = (ref: string): NistFunction => ref.split(' ', 1)[0] as NistFunction;

import type { Finding, Severity } from './finding.ts';

/**
 * Findings as OCSF 1.8.0 Detection Finding events (class 2004, category 2
 * Findings), for SIEMs that take OCSF (Amazon Security Lake, Splunk, ...).
 *
 * Mapping (schema at github.com/ocsf/ocsf-schema, tag 1.8.0):
 * - activity_id by status: open → Create (1) for a first occurrence, Update (2)
 *   once seen again; resolved or suppressed → Close (3). type_uid = 2004 · 100 + activity_id.
 * - severity_id: info 1 Informational, low 2, medium 3, high 4, critical 5.
 * - status_id: open 1 New, suppressed 3 Suppressed, resolved 4 Resolved.
 * - time: the finding's last_seen (ms), or options.time; start_time / end_time and
 *   finding_info.first_seen_time / last_seen_time: its first and last seen.
 * - finding_info: uid the finding id (stable across occurrences: SIEMs correlate
 *   on it), title, desc the (redacted) evidence, types [type, rule], analytic the rule.
 * - finding_info.attacks: one per MITRE ATLAS technique and tactic (ATLAS 5.6.0 names;
 *   an id not in the table keeps its uid only). OWASP ids have no OCSF attribute
 *   and go to `unmapped`, with the event ids.
 * - resources: the asset (uid its key, name, type its asset type, role Affected);
 *   observables: the asset as a Resource UID (10), a user asset as a User Name (4).
 * - confidence: from the finding's score when it is in [0, 1] (drift's PSI is not).
 */
export const OCSF_VERSION = '1.8.0';
export const DETECTION_FINDING_CLASS_UID = 2004;
export const FINDINGS_CATEGORY_UID = 2;
/** The ATLAS release the technique names come from. */
export const ATLAS_VERSION = '5.6.0';

export const OCSF_ACTIVITY = { create: 1, update: 2, close: 3 } as const;
export type OcsfActivity = keyof typeof OCSF_ACTIVITY;
const ACTIVITY_NAME: Record<number, string> = { 1: 'Create', 2: 'Update', 3: 'Close' };

export const OCSF_SEVERITY: Readonly<Record<Severity, { id: number; name: string }>> = {
  info: { id: 1, name: 'Informational' },
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
};

export const OCSF_STATUS: Readonly<Record<Finding['status'], { id: number; name: string }>> = {
  open: { id: 1, name: 'New' },
  suppressed: { id: 3, name: 'Suppressed' },
  resolved: { id: 4, name: 'Resolved' },
};

export interface OcsfOptions {
  /** metadata.product; aispm by default. */
  product?: { name?: string; vendor_name?: string; version?: string };
  /** Overrides the activity the status implies (e.g. 'update' for a re-sent open finding). */
  activity?: OcsfActivity;
  /** The event's time, ms since the epoch; the finding's last_seen by default. */
  time?: number;
  /** metadata.log_name: where the finding came from (the findings topic by default). */
  logName?: string;
}

export interface OcsfEntity {
  uid?: string;
  name?: string;
  src_url?: string;
}

export interface OcsfAttack {
  tactic?: OcsfEntity;
  technique?: OcsfEntity;
  sub_technique?: OcsfEntity;
  version: string;
}

export interface OcsfDetectionFinding {
  class_uid: 2004;
  class_name: 'Detection Finding';
  category_uid: 2;
  category_name: 'Findings';
  activity_id: number;
  activity_name: string;
  type_uid: number;
  type_name: string;
  time: number;
  severity_id: number;
  severity: string;
  status_id: number;
  status: string;
  message: string;
  count: number;
  start_time: number;
  end_time: number;
  is_alert: boolean;
  confidence_id?: number;
  confidence?: string;
  confidence_score?: number;
  metadata: {
    version: string;
    product: { name: string; vendor_name: string; version: string };
    log_name: string;
    tenant_uid: string;
    correlation_uid: string;
    uid: string;
  };
  finding_info: {
    uid: string;
    title: string;
    desc: string;
    types: string[];
    first_seen_time: number;
    last_seen_time: number;
    analytic: { uid: string; name: string; type_id: number; type: string; version: string };
    attacks?: OcsfAttack[];
  };
  resources: { uid: string; name: string; type: string; role_id: number; role: string }[];
  observables: { name: string; type_id: number; type: string; value: string }[];
  unmapped: {
    owasp_llm: string[];
    owasp_agentic: string[];
    mitre_atlas: string[];
    event_ids: string[];
    occurrences: number;
    model: string;
  };
}

/** OCSF analytic type per finding type: baselines are behavioural or statistical; the rest are rules. */
const ANALYTIC_TYPE: Record<string, { id: number; name: string }> = {
  behaviour_anomaly: { id: 2, name: 'Behavioral' },
  behaviour_drift: { id: 3, name: 'Statistical' },
};
const RULE_ANALYTIC = { id: 1, name: 'Rule' };

const DEFAULT_PRODUCT = { name: 'aispm', vendor_name: 'aispm', version: '0.1.0' };

/** One finding record as an OCSF 1.8.0 Detection Finding. */
export function toOcsfDetectionFinding(finding: Finding, options: OcsfOptions = {}): OcsfDetectionFinding {
  const activityId = OCSF_ACTIVITY[options.activity ?? activityOf(finding)];
  const severity = OCSF_SEVERITY[finding.severity] ?? OCSF_SEVERITY.info;
  const status = OCSF_STATUS[finding.status] ?? OCSF_STATUS.open;
  const first = ms(finding.first_seen);
  const last = ms(finding.last_seen);
  const time = options.time ?? last;
  const analytic = ANALYTIC_TYPE[finding.type] ?? RULE_ANALYTIC;
  const name = assetName(finding);
  const attacks = atlasAttacks(finding.mitre_atlas);
  const observables = [{ name: 'resources[0].uid', type_id: 10, type: 'Resource UID', value: finding.asset }];
  if (finding.asset_type === 'user')
    observables.push({ name: 'resources[0].name', type_id: 4, type: 'User Name', value: name });
  const event: OcsfDetectionFinding = {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: activityId,
    activity_name: ACTIVITY_NAME[activityId]!,
    type_uid: DETECTION_FINDING_CLASS_UID * 100 + activityId,
    type_name: `Detection Finding: ${ACTIVITY_NAME[activityId]}`,
    time,
    severity_id: severity.id,
    severity: severity.name,
    status_id: status.id,
    status: status.name,
    message: finding.title,
    count: finding.occurrences,
    start_time: first,
    end_time: last,
    is_alert: activityId !== OCSF_ACTIVITY.close,
    ...confidence(finding),
    metadata: {
      version: OCSF_VERSION,
      product: { ...DEFAULT_PRODUCT, ...definedOnly(options.product ?? {}) },
      log_name: options.logName ?? 'aispm.findings.v1',
      tenant_uid: finding.tenant,
      correlation_uid: finding.id,
      // One OCSF event per record: the finding, its activity and the time it describes.
      uid: `${finding.id}:${activityId}:${time}`,
    },
    finding_info: {
      uid: finding.id,
      title: finding.title,
      desc: finding.evidence.join('\n'),
      types: [...new Set([finding.type, finding.rule].filter((t) => t !== ''))],
      first_seen_time: first,
      last_seen_time: last,
      analytic: {
        uid: finding.rule,
        name: finding.rule,
        type_id: analytic.id,
        type: analytic.name,
        version: finding.model,
      },
      ...(attacks.length > 0 ? { attacks } : {}),
    },
    resources: [{ uid: finding.asset, name, type: finding.asset_type, role_id: 3, role: 'Affected' }],
    observables,
    unmapped: {
      owasp_llm: finding.owasp_llm,
      owasp_agentic: finding.owasp_agentic ?? [],
      mitre_atlas: finding.mitre_atlas,
      event_ids: finding.event_ids,
      occurrences: finding.occurrences,
      model: finding.model,
    },
  };
  return event;
}

/** Close for a resolved or suppressed finding; Create for a first occurrence; Update after. */
function activityOf(finding: Finding): OcsfActivity {
  if (finding.status !== 'open') return 'close';
  return finding.occurrences <= 1 && finding.first_seen === finding.last_seen ? 'create' : 'update';
}

function confidence(finding: Finding): Pick<OcsfDetectionFinding, 'confidence_id' | 'confidence' | 'confidence_score'> {
  const s = finding.score;
  if (!(s >= 0 && s <= 1)) return {};
  const [id, name] = s >= 0.8 ? [3, 'High'] : s >= 0.5 ? [2, 'Medium'] : [1, 'Low'];
  return { confidence_id: id, confidence: name, confidence_score: Math.round(s * 100) };
}

/** Microseconds to whole milliseconds (OCSF timestamp_t). */
const ms = (micros: number): number => Math.floor(micros / 1000);

/** The asset's own name from its key: `tenant/app/agent` → agent, `tenant/app/-` → app, `tenant/kind:name` → name. */
function assetName(finding: Pick<Finding, 'tenant' | 'asset' | 'asset_type'>): string {
  const prefix = `${finding.tenant}/`;
  const rest = finding.asset.startsWith(prefix) ? finding.asset.slice(prefix.length) : finding.asset;
  if (rest.startsWith(`${finding.asset_type}:`)) return rest.slice(finding.asset_type.length + 1);
  if (finding.asset_type === 'app' && rest.endsWith('/-')) return rest.slice(0, -2);
  if (finding.asset_type === 'agent' && rest.includes('/')) return rest.slice(rest.lastIndexOf('/') + 1);
  return rest;
}

const ATLAS_TACTICS: Readonly<Record<string, string>> = {
  'AML.TA0000': 'AI Model Access',
  'AML.TA0001': 'AI Attack Staging',
  'AML.TA0002': 'Reconnaissance',
  'AML.TA0003': 'Resource Development',
  'AML.TA0004': 'Initial Access',
  'AML.TA0005': 'Execution',
  'AML.TA0006': 'Persistence',
  'AML.TA0007': 'Defense Evasion',
  'AML.TA0008': 'Discovery',
  'AML.TA0009': 'Collection',
  'AML.TA0010': 'Exfiltration',
  'AML.TA0011': 'Impact',
  'AML.TA0012': 'Privilege Escalation',
  'AML.TA0013': 'Credential Access',
  'AML.TA0014': 'Command and Control',
  'AML.TA0015': 'Lateral Movement',
};

/** ATLAS 5.6.0 techniques that AI-app findings name (sub-techniques take their parent's tactics). */
const ATLAS_TECHNIQUES: Readonly<Record<string, { name: string; tactics: readonly string[] }>> = {
  'AML.T0024': { name: 'Exfiltration via AI Inference API', tactics: ['AML.TA0010'] },
  'AML.T0025': { name: 'Exfiltration via Cyber Means', tactics: ['AML.TA0010'] },
  'AML.T0029': { name: 'Denial of AI Service', tactics: ['AML.TA0011'] },
  'AML.T0031': { name: 'Erode AI Model Integrity', tactics: ['AML.TA0011'] },
  'AML.T0034': { name: 'Cost Harvesting', tactics: ['AML.TA0011'] },
  'AML.T0034.002': { name: 'Agentic Resource Consumption', tactics: [] },
  'AML.T0040': { name: 'AI Model Inference API Access', tactics: ['AML.TA0000'] },
  'AML.T0048': { name: 'External Harms', tactics: ['AML.TA0011'] },
  'AML.T0051': { name: 'LLM Prompt Injection', tactics: ['AML.TA0005'] },
  'AML.T0051.000': { name: 'Direct', tactics: [] },
  'AML.T0051.001': { name: 'Indirect', tactics: [] },
  'AML.T0053': { name: 'AI Agent Tool Invocation', tactics: ['AML.TA0005', 'AML.TA0012'] },
  'AML.T0054': { name: 'LLM Jailbreak', tactics: ['AML.TA0012', 'AML.TA0007'] },
  'AML.T0055': { name: 'Unsecured Credentials', tactics: ['AML.TA0013'] },
  'AML.T0056': { name: 'Extract LLM System Prompt', tactics: ['AML.TA0010'] },
  'AML.T0057': { name: 'LLM Data Leakage', tactics: ['AML.TA0010'] },
  'AML.T0061': { name: 'LLM Prompt Self-Replication', tactics: ['AML.TA0006'] },
  'AML.T0065': { name: 'LLM Prompt Crafting', tactics: ['AML.TA0003'] },
  'AML.T0067': { name: 'LLM Trusted Output Components Manipulation', tactics: ['AML.TA0007'] },
  'AML.T0068': { name: 'LLM Prompt Obfuscation', tactics: ['AML.TA0007'] },
  'AML.T0069': { name: 'Discover LLM System Information', tactics: ['AML.TA0008'] },
  'AML.T0077': { name: 'LLM Response Rendering', tactics: ['AML.TA0010'] },
  'AML.T0080': { name: 'AI Agent Context Poisoning', tactics: ['AML.TA0006'] },
  'AML.T0081': { name: 'Modify AI Agent Configuration', tactics: ['AML.TA0006', 'AML.TA0007'] },
  'AML.T0083': { name: 'Credentials from AI Agent Configuration', tactics: ['AML.TA0013'] },
  'AML.T0085': { name: 'Data from AI Services', tactics: ['AML.TA0009'] },
  'AML.T0086': { name: 'Exfiltration via AI Agent Tool Invocation', tactics: ['AML.TA0010'] },
  'AML.T0092': { name: 'Manipulate User LLM Chat History', tactics: ['AML.TA0007'] },
  'AML.T0093': { name: 'Prompt Infiltration via Public-Facing Application', tactics: ['AML.TA0004', 'AML.TA0006'] },
  'AML.T0098': { name: 'AI Agent Tool Credential Harvesting', tactics: ['AML.TA0013'] },
  'AML.T0101': { name: 'Data Destruction via AI Agent Tool Invocation', tactics: ['AML.TA0011'] },
  'AML.T0110': { name: 'AI Agent Tool Poisoning', tactics: ['AML.TA0006'] },
};

const TECHNIQUE_ID = /^AML\.T\d{4}(\.\d{3})?$/;
const TACTIC_ID = /^AML\.TA\d{4}$/;

/**
 * OCSF attack objects for ATLAS ids: a technique (or sub-technique, with its parent
 * as the technique) once per tactic it serves, or once without a tactic when none is
 * known; a bare tactic id as a tactic. Ids that are not ATLAS are left out.
 */
export function atlasAttacks(ids: readonly string[]): OcsfAttack[] {
  const attacks: OcsfAttack[] = [];
  const entity = (uid: string, name: string | undefined, kind: 'techniques' | 'tactics'): OcsfEntity => ({
    uid,
    ...(name === undefined ? {} : { name }),
    src_url: `https://atlas.mitre.org/${kind}/${uid}`,
  });
  for (const id of new Set(ids)) {
    if (TACTIC_ID.test(id)) {
      attacks.push({ tactic: entity(id, ATLAS_TACTICS[id], 'tactics'), version: ATLAS_VERSION });
      continue;
    }
    const match = TECHNIQUE_ID.exec(id);
    if (match === null) continue;
    const parentId = match[1] === undefined ? id : id.slice(0, -match[1].length);
    const technique = entity(parentId, ATLAS_TECHNIQUES[parentId]?.name, 'techniques');
    const sub = match[1] === undefined ? {} : { sub_technique: entity(id, ATLAS_TECHNIQUES[id]?.name, 'techniques') };
    const tactics = ATLAS_TECHNIQUES[parentId]?.tactics ?? [];
    if (tactics.length === 0) attacks.push({ technique, ...sub, version: ATLAS_VERSION });
    for (const tactic of tactics)
      attacks.push({
        tactic: entity(tactic, ATLAS_TACTICS[tactic], 'tactics'),
        technique,
        ...sub,
        version: ATLAS_VERSION,
      });
  }
  return attacks;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

import { computePosture, readInventory, type InventoryPolicy, type Posture } from '@aispm/processor';
import type { Store } from '@aispm/store';
import { THIRD_PARTY_FLEET } from './third-party.ts';
import { LABEL_ATTRIBUTE, SCENARIOS } from './traffic.ts';

/** What the demo read back from the store: counts, entities, and the top anomalies with their ground truth. */
export interface DemoSummary {
  events: number;
  injected: number;
  entities: Record<'apps' | 'agents' | 'users' | 'identities' | 'tools' | 'models' | 'providers', number>;
  /**
   * Highest-scoring episodes: an agent's scored events in one 15-minute window, ranked
   * by their best score (learning baselines excluded), with the ground-truth label of
   * any injected event among them.
   */
  topEpisodes: Episode[];
  /** Of the `top` highest-scoring single events, how many are injected. */
  topEvents: { labeled: number; of: number };
  /** Per scenario: how many of its events scored at or above the alert score. */
  detected: { label: string; events: number; flagged: number; best: number }[];
  /** Benign events at or above the alert score, out of all benign scored events. */
  falsePositives: { flagged: number; of: number };
  /** The strongest findings of the fleet-wide baselines (users, identities, models, tools), and how many there are. */
  fleet: { findings: number; top: FleetFinding[] };
  /** How trace assembly attributed the stored events; `merged`: events joined from two reports of a call. */
  attribution: { own: number; inherited: number; none: number; merged: number };
  thirdParty: ThirdPartyCheck;
  /** Per detector (finding type other than anomaly and drift): its findings, on injected events and on benign ones only. */
  detections: DetectionCount[];
  /** The strongest detection findings. */
  topDetections: DetectionFinding[];
  /** The AI asset inventory: assets per kind, and those the policy does not approve. */
  inventory: { kinds: Record<string, number>; unapproved: { kind: string; name: string }[] };
  /** The tenant's posture score now, its categories and what would raise it most. */
  posture: Pick<Posture, 'score' | 'categories' | 'open_findings' | 'actions'>;
}

export interface DetectionCount {
  type: string;
  findings: number;
  onInjected: number;
  onBenign: number;
}

export interface DetectionFinding {
  type: string;
  severity: string;
  asset: string;
  title: string;
  references: string;
  evidence: string;
}

/** Finding types of the baselines' scores: judged by the anomaly lines of the summary, not as detections. */
const BASELINE_TYPES = ['behaviour_anomaly', 'behaviour_drift'];

/** The third-party fleet as stored: were its calls scored under their agents, and is each call there once? */
export interface ThirdPartyCheck {
  events: number;
  /** Its LLM and tool calls scored under their agent (entity `<app>/<agent>`). */
  underAgent: number;
  /** Its LLM and tool calls in apps that run agents, scored under `<app>/-` all the same: attribution failed. */
  underApp: number;
  /** Its LLM and tool calls in apps that run no agent (scored under `<app>/-`, rightly). */
  agentless: number;
  /** Response ids stored on more than one event: a call reported twice and not merged. */
  repeatedResponseIds: number;
}

export interface FleetFinding {
  severity: string;
  title: string;
  evidence: string;
}

/** Fleet findings listed in the summary. */
const FLEET_TOP = 5;

export interface Episode {
  score: number;
  app: string;
  agent: string;
  label: string;
  start: string;
  events: number;
  flagged: number;
  reason: string;
}

export const ALERT_SCORE = 0.5;

export async function summarize(
  store: Store,
  tenant: string,
  top: number,
  policy: InventoryPolicy,
): Promise<DemoSummary> {
  const p = { tenant, label: LABEL_ATTRIBUTE, alert: ALERT_SCORE, top };
  const [counts] = await store.query<Record<string, string>>(
    `SELECT count() AS events, countIf(attributes[{label:String}] != '') AS injected,
            uniqExact(app) AS apps, uniqExact(agent) AS agents, uniqExact(user) AS users,
            uniqExact(identity) AS identities, uniqExactIf(tool_name, tool_name != '') AS tools,
            uniqExactIf(response_model, response_model != '') AS models, uniqExactIf(provider, provider != '') AS providers
     FROM events FINAL WHERE tenant = {tenant:String}`,
    p,
  );
  const scored = `SELECT s.score AS score, s.app AS app, s.agent AS agent, s.time AS time,
                         e.attributes[{label:String}] AS label, s.reasons AS reasons, s.learning AS learning
                  FROM (SELECT * FROM anomaly_scores FINAL WHERE tenant = {tenant:String}) AS s
                  INNER JOIN (SELECT event_id, attributes FROM events FINAL WHERE tenant = {tenant:String}) AS e
                  ON s.event_id = e.event_id`;
  const topEpisodes = await store.query<Record<string, string | number | string[]>>(
    `SELECT max(score) AS best, app, agent, anyIf(label, label != '') AS injected,
            formatDateTime(min(time), '%Y-%m-%d %H:%i') AS start, count() AS events,
            countIf(score >= {alert:Float64}) AS flagged, argMax(reasons, score) AS reasons
     FROM (${scored}) WHERE NOT learning
     GROUP BY app, agent, toStartOfInterval(time, INTERVAL 15 MINUTE) AS window
     ORDER BY best DESC, window LIMIT {top:UInt32}`,
    p,
  );
  const [topEvents] = await store.query<{ labeled: string; of: string }>(
    `SELECT countIf(label != '') AS labeled, count() AS of
     FROM (SELECT label FROM (${scored}) WHERE NOT learning ORDER BY score DESC LIMIT {top:UInt32})`,
    p,
  );
  const perLabel = await store.query<{ label: string; events: string; flagged: string; best: number }>(
    `SELECT label, count() AS events, countIf(score >= {alert:Float64}) AS flagged, max(score) AS best
     FROM (${scored}) GROUP BY label`,
    p,
  );
  const benign = perLabel.find((row) => row.label === '');
  const [attribution, thirdParty] = await Promise.all([attributionOf(store, tenant), thirdPartyCheck(store, tenant)]);
  const fleet = await store.query<{ severity: string; title: string; evidence: string[]; n: string }>(
    `SELECT severity, title, evidence, count() OVER () AS n FROM findings FINAL
     WHERE tenant = {tenant:String} AND asset_type IN ('user', 'identity', 'model', 'tool')
     ORDER BY severity DESC, score DESC LIMIT {fleetTop:UInt32}`,
    { ...p, fleetTop: FLEET_TOP },
  );
  const { detections, topDetections } = await detectionsOf(store, tenant, top);
  const assets = await readInventory(store, tenant, policy, { findings: false });
  const kinds: Record<string, number> = {};
  for (const a of assets) kinds[a.kind] = (kinds[a.kind] ?? 0) + 1;
  const posture = await computePosture(store, tenant, policy);
  return {
    inventory: {
      kinds,
      unapproved: assets.filter((a) => a.approval === 'unapproved').map((a) => ({ kind: a.kind, name: a.name })),
    },
    posture: {
      score: posture.score,
      categories: posture.categories,
      open_findings: posture.open_findings,
      actions: posture.actions,
    },
    detections,
    topDetections,
    events: Number(counts?.events ?? 0),
    injected: Number(counts?.injected ?? 0),
    entities: {
      apps: Number(counts?.apps ?? 0),
      agents: Number(counts?.agents ?? 0),
      users: Number(counts?.users ?? 0),
      identities: Number(counts?.identities ?? 0),
      tools: Number(counts?.tools ?? 0),
      models: Number(counts?.models ?? 0),
      providers: Number(counts?.providers ?? 0),
    },
    topEpisodes: topEpisodes.map((row) => ({
      score: Number(row.best),
      app: String(row.app),
      agent: String(row.agent),
      label: String(row.injected),
      start: String(row.start),
      events: Number(row.events),
      flagged: Number(row.flagged),
      reason: (row.reasons as string[])[0] ?? '',
    })),
    topEvents: { labeled: Number(topEvents?.labeled ?? 0), of: Number(topEvents?.of ?? 0) },
    // Scenarios the baselines should flag by score; every scenario's findings are counted below.
    detected: SCENARIOS.filter((sc) => sc.scored).map(({ label }) => {
      const row = perLabel.find((r) => r.label === label);
      return {
        label,
        events: Number(row?.events ?? 0),
        flagged: Number(row?.flagged ?? 0),
        best: Number(row?.best ?? 0),
      };
    }),
    falsePositives: { flagged: Number(benign?.flagged ?? 0), of: Number(benign?.events ?? 0) },
    fleet: {
      findings: Number(fleet[0]?.n ?? 0),
      top: fleet.map((f) => ({ severity: f.severity, title: f.title, evidence: f.evidence[0] ?? '' })),
    },
    attribution,
    thirdParty,
  };
}

/**
 * The detectors' findings read back: each finding id counts as on injected
 * misbehaviour when any event it names is labeled, else as on benign traffic.
 */
async function detectionsOf(
  store: Store,
  tenant: string,
  top: number,
): Promise<Pick<DemoSummary, 'detections' | 'topDetections'>> {
  const p = { tenant, label: LABEL_ATTRIBUTE, baseline: BASELINE_TYPES, top };
  const counts = await store.query<{ type: string; findings: string; on_injected: string; on_benign: string }>(
    `SELECT type, uniqExact(id) AS findings, uniqExactIf(id, injected) AS on_injected,
            uniqExactIf(id, NOT injected) AS on_benign
     FROM (SELECT type, id, max(event IN (SELECT event_id FROM events WHERE tenant = {tenant:String}
                                          AND attributes[{label:String}] != '')) AS injected
           FROM findings ARRAY JOIN event_ids AS event
           WHERE tenant = {tenant:String} AND type NOT IN {baseline:Array(String)}
           GROUP BY type, id)
     GROUP BY type ORDER BY type`,
    p,
  );
  const strongest = await store.query<Record<string, string | string[]>>(
    `SELECT type, max(severity) AS severity, anyLast(asset) AS asset, anyLast(title) AS title,
            anyLast(owasp_llm) AS llm, anyLast(owasp_agentic) AS agentic, anyLast(mitre_atlas) AS atlas,
            anyLast(evidence) AS evidence, max(score) AS score
     FROM findings WHERE tenant = {tenant:String} AND type NOT IN {baseline:Array(String)}
     GROUP BY type, id ORDER BY severity DESC, score DESC LIMIT 1 BY type LIMIT {top:UInt32}`,
    p,
  );
  return {
    detections: counts.map((r) => ({
      type: r.type,
      findings: Number(r.findings),
      onInjected: Number(r.on_injected),
      onBenign: Number(r.on_benign),
    })),
    topDetections: strongest.map((r) => ({
      type: String(r.type),
      severity: String(r.severity),
      asset: String(r.asset),
      title: String(r.title),
      references: [...(r.llm as string[]), ...(r.agentic as string[]), ...(r.atlas as string[])].join(' '),
      evidence: (r.evidence as string[])[0] ?? '',
    })),
  };
}

/** The attribute trace assembly leaves on an event merged from two reports: the other report's span. */
const MERGED_SPAN = 'aispm.merged.span_id';
const RESPONSE_ID = 'gen_ai.response.id';

async function attributionOf(store: Store, tenant: string): Promise<DemoSummary['attribution']> {
  const [row] = await store.query<Record<string, string>>(
    `SELECT countIf(attribution = 'own') AS own, countIf(attribution = 'inherited') AS inherited,
            countIf(attribution = 'none') AS none, countIf(attributes[{merged:String}] != '') AS merged
     FROM events FINAL WHERE tenant = {tenant:String}`,
    { tenant, merged: MERGED_SPAN },
  );
  return {
    own: Number(row?.own ?? 0),
    inherited: Number(row?.inherited ?? 0),
    none: Number(row?.none ?? 0),
    merged: Number(row?.merged ?? 0),
  };
}

/** Reads the third-party fleet back: how its calls were scored (agent or app entity), and repeated response ids. */
async function thirdPartyCheck(store: Store, tenant: string): Promise<ThirdPartyCheck> {
  const p = {
    tenant,
    apps: THIRD_PARTY_FLEET.map((a) => a.app),
    agentApps: THIRD_PARTY_FLEET.filter((a) => a.agent !== null).map((a) => a.app),
    responseId: RESPONSE_ID,
  };
  const [scored] = await store.query<Record<string, string>>(
    `SELECT countIf(s.entity_type = 'agent') AS under_agent,
            countIf(s.entity_type = 'app' AND e.app IN {agentApps:Array(String)}) AS under_app,
            countIf(s.entity_type = 'app' AND e.app NOT IN {agentApps:Array(String)}) AS agentless
     FROM (SELECT event_id, entity_type FROM anomaly_scores FINAL
           WHERE tenant = {tenant:String} AND app IN {apps:Array(String)}) AS s
     INNER JOIN (SELECT event_id, app FROM events FINAL
                 WHERE tenant = {tenant:String} AND app IN {apps:Array(String)} AND kind IN ('llm_call', 'tool_call')) AS e
     ON s.event_id = e.event_id`,
    p,
  );
  const [ids] = await store.query<Record<string, string>>(
    `SELECT count() AS events, countIf(attributes[{responseId:String}] != '') AS calls,
            uniqExactIf(attributes[{responseId:String}], attributes[{responseId:String}] != '') AS ids
     FROM events FINAL WHERE tenant = {tenant:String} AND app IN {apps:Array(String)}`,
    p,
  );
  return {
    events: Number(ids?.events ?? 0),
    underAgent: Number(scored?.under_agent ?? 0),
    underApp: Number(scored?.under_app ?? 0),
    agentless: Number(scored?.agentless ?? 0),
    repeatedResponseIds: Number(ids?.calls ?? 0) - Number(ids?.ids ?? 0),
  };
}

export function formatSummary(
  summary: DemoSummary,
  run: { seconds: number; published: number; deadLettered: number; twins: number; merged: number },
): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const e = summary.entities;
  const labeledTop = summary.topEpisodes.filter((t) => t.label !== '').length;
  const lines = [
    '',
    `aispm demo — summary (read back from the store, ${run.seconds.toFixed(1)} s)`,
    `  events stored     ${n(summary.events)} of ${n(run.published)} published (${n(summary.injected)} injected misbehaviour, ${n(run.deadLettered)} dead-lettered)`,
    ...attributionLines(summary, run),
    `  entities seen     ${e.apps} apps · ${e.agents} agents · ${n(e.users)} users · ${e.identities} identities · ${e.tools} tools · ${e.models} models · ${e.providers} providers`,
    '',
    `  top ${summary.topEpisodes.length} anomalies, one line per agent and 15 minutes (${labeledTop} labeled misbehaviour):`,
    `         score  agent                            label             flagged     first event       top reason`,
    ...summary.topEpisodes.map(
      (t, i) =>
        `  ${String(i + 1).padStart(3)}. ${t.score.toFixed(3)}  ${`${t.app}/${t.agent || '-'}`.padEnd(32)} ${(t.label || 'benign').padEnd(17)} ${String(t.flagged).padStart(3)}/${String(t.events).padEnd(4)} ${t.start}  ${t.reason}`,
    ),
    `  of the top ${summary.topEvents.of} single events, ${summary.topEvents.labeled} are labeled misbehaviour`,
    '',
    `  injected behaviour scenarios (flagged = score ≥ ${ALERT_SCORE}):`,
    ...summary.detected.map(
      (d) =>
        `    ${d.label.padEnd(17)} ${String(d.flagged).padStart(3)}/${String(d.events).padEnd(3)} flagged, best score ${d.best.toFixed(3)}`,
    ),
    `  benign events flagged: ${n(summary.falsePositives.flagged)} of ${n(summary.falsePositives.of)} (${((100 * summary.falsePositives.flagged) / Math.max(summary.falsePositives.of, 1)).toFixed(2)}%)`,
    '',
    `  fleet-wide baselines (users, identities, models, tools across agents): ${n(summary.fleet.findings)} findings`,
    ...summary.fleet.top.map((f) => `    ${f.severity.padEnd(8)} ${f.title} — ${f.evidence}`),
    '',
    `  detections (findings per detector: on injected misbehaviour · on benign traffic only):`,
    ...summary.detections.map(
      (d) =>
        `    ${d.type.padEnd(20)} ${String(d.findings).padStart(4)} findings: ${d.onInjected} injected · ${d.onBenign} benign`,
    ),
    `  strongest finding of each detector:`,
    ...summary.topDetections.map(
      (f) => `    ${f.severity.padEnd(8)} ${f.type.padEnd(20)} ${f.title} [${f.references}] — ${f.evidence}`,
    ),
    '',
    `  inventory         ${Object.entries(summary.inventory.kinds)
      .map(([kind, count]) => `${count} ${kind}`)
      .join(' · ')}`,
    `  not approved      ${summary.inventory.unapproved.map((a) => `${a.kind} ${a.name}`).join(', ') || 'none'}`,
    `  posture score     ${summary.posture.score.toFixed(0)}/100 (${summary.posture.open_findings} open findings): ${Object.entries(
      summary.posture.categories,
    )
      .map(([c, v]) => `${c} ${v.toFixed(0)}`)
      .join(' · ')}`,
    ...summary.posture.actions.slice(0, 3).map((a, i) => `    ${i + 1}. +${a.points.toFixed(1)} ${a.title}`),
    '',
  ];
  return lines.join('\n');
}

/** What trace assembly did: attribution as stored, merges, and the third-party fleet read back. */
function attributionLines(summary: DemoSummary, run: { twins: number; merged: number }): string[] {
  const n = (x: number): string => x.toLocaleString('en-US');
  const a = summary.attribution;
  const t = summary.thirdParty;
  const agentless = THIRD_PARTY_FLEET.filter((p) => p.agent === null).map((p) => p.app);
  return [
    `  attribution       ${n(a.own)} own · ${n(a.inherited)} inherited · ${n(a.none)} none (agent from the span itself, from its agent ancestor, or no agent)`,
    `  calls merged      ${n(run.merged)} of ${n(run.twins)} calls reported twice (${n(a.merged)} stored events joined from two reports)`,
    `  third-party apps  ${THIRD_PARTY_FLEET.map((p) => p.app).join(', ')}: ${n(t.events)} events, the agent named on the agent span only`,
    `                    LLM/tool calls scored under their agent: ${n(t.underAgent)} · under <app>/-: ${n(t.underApp)} · in ${agentless.join(', ')} (no agent): ${n(t.agentless)}`,
    `                    response ids stored twice: ${n(t.repeatedResponseIds)}`,
  ];
}

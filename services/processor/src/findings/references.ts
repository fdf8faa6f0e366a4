/**
 * Framework references per finding rule: OWASP Top 10 for LLM Applications 2025
 * (genai.owasp.org) and MITRE ATLAS techniques (atlas.mitre.org). A rule is the
 * strongest feature of an anomaly (score parts) or a drift measure; unknown rules
 * fall back to the generic agent-behaviour pair so every finding carries both.
 */
export interface References {
  owasp_llm: string[];
  owasp_agentic: string[];
  mitre_atlas: string[];
}

const COST: References = {
  // Unbounded Consumption; Cost Harvesting, Denial of ML Service.
  owasp_llm: ['LLM10:2025'],
  owasp_agentic: [],
  mitre_atlas: ['AML.T0034', 'AML.T0029'],
};
const AGENCY: References = {
  // Excessive Agency; LLM Plugin Compromise.
  owasp_llm: ['LLM06:2025'],
  // Tool Misuse and Exploitation.
  owasp_agentic: ['ASI02'],
  mitre_atlas: ['AML.T0053'],
};
const EXFILTRATION: References = {
  // Sensitive Information Disclosure, Excessive Agency; Exfiltration via Cyber Means, LLM Data Leakage.
  owasp_llm: ['LLM02:2025', 'LLM06:2025'],
  owasp_agentic: ['ASI02'],
  mitre_atlas: ['AML.T0025', 'AML.T0057'],
};
const MODEL_CHANGE: References = {
  // Supply Chain (a silently swapped model), Misinformation; Erode ML Model Integrity.
  owasp_llm: ['LLM03:2025', 'LLM09:2025'],
  owasp_agentic: [],
  mitre_atlas: ['AML.T0031'],
};

export function referencesFor(rule: string): References {
  if (/rate|token|latency|cost/.test(rule)) return COST;
  if (/destination|host|endpoint/.test(rule)) return EXFILTRATION;
  if (/model|provider|drift|psi|js/.test(rule)) return MODEL_CHANGE;
  return AGENCY;
}

-- OWASP Top 10 for Agentic Applications (2026) ids of a finding (schemas/avro/finding.v2.avsc),
-- beside its OWASP LLM and MITRE ATLAS references. Empty for findings stored before.
ALTER TABLE findings ADD COLUMN IF NOT EXISTS owasp_agentic SimpleAggregateFunction(anyLast, Array(String)) DEFAULT [] AFTER owasp_llm;

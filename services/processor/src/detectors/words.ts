/** A span of event time in hours, for evidence: `26.5 h`. */
export const hours = (ms: number): string => `${(ms / 3_600_000).toFixed(1)} h`;

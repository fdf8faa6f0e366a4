import type { Finding } from '@aispm/core';
import { matchesAll } from './matchers.ts';
import { WEEKDAYS, type MaintenanceWindow, type Routes } from './types.ts';

/** One formatter per zone: the zones come from the routes file only, so this stays small. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function localTime(zone: string, now: number): { weekday: number; minute: number } {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(zone, f);
  }
  let weekday = 0;
  let hour = 0;
  let minute = 0;
  for (const p of f.formatToParts(now)) {
    if (p.type === 'weekday') weekday = WEEKDAYS.indexOf(p.value.toLowerCase() as (typeof WEEKDAYS)[number]);
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { weekday, minute: hour * 60 + minute };
}

/** Whether a maintenance window is open at `now`; one that ends at or before it starts runs past midnight. */
export function inMaintenance(w: MaintenanceWindow, now: number): boolean {
  const { weekday, minute } = localTime(w.zone, now);
  if (w.fromMinute < w.toMinute) return w.weekdays.has(weekday) && minute >= w.fromMinute && minute < w.toMinute;
  if (w.weekdays.has(weekday) && minute >= w.fromMinute) return true;
  return w.weekdays.has((weekday + 6) % 7) && minute < w.toMinute;
}

/** The file silence or maintenance window muting a finding at `now` (its id or name), or null. */
export function fileSilenceMutes(routes: Routes, finding: Finding, now: number): string | null {
  for (const s of routes.silences) {
    if (now >= s.startsAt && now < s.endsAt && matchesAll(s.matchers, finding)) return s.id;
  }
  for (const w of routes.maintenance) {
    if (matchesAll(w.matchers, finding) && inMaintenance(w, now)) return w.name;
  }
  return null;
}

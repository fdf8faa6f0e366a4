import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '@aispm/core';
import { describe, expect, it } from 'vitest';
import { sampleFinding as finding } from '../dispatch/fixtures.ts';
import {
  DEFAULT_ROUTES_FILE,
  fileSilenceMutes,
  inMaintenance,
  loadRoutes,
  matchRoutes,
  parseDuration,
  parseMatcher,
  parseRoutes,
  RoutesError,
} from './index.ts';

const base = {
  version: 1,
  destinations: [
    { name: 'pd', kind: 'pagerduty', routing_key_env: 'PD_KEY' },
    { name: 'hec', kind: 'splunk_hec', url: 'http://127.0.0.1:1', token_env: 'HEC' },
  ],
  route: { destinations: ['hec'] },
};

function routesOf(over: Record<string, unknown>) {
  return parseRoutes(JSON.stringify({ ...base, ...over }), 'test.json');
}

function errorOf(over: Record<string, unknown>): RoutesError {
  try {
    routesOf(over);
  } catch (err) {
    expect(err).toBeInstanceOf(RoutesError);
    return err as RoutesError;
  }
  throw new Error('expected the routes file to be refused');
}

describe('routes file', () => {
  it('loads the shipped default file', () => {
    const r = loadRoutes(DEFAULT_ROUTES_FILE);
    expect(r.root.routes.map((x) => x.name)).toEqual(['page-oncall', 'siem']);
    expect(r.destinations.map((d) => d.kind).sort()).toEqual(['pagerduty', 'splunk_hec', 'syslog']);
    const pd = r.destinations.find((d) => d.name === 'pagerduty')!;
    expect(pd.rateLimit).toEqual({ perMinute: 120, burst: 120 });
    expect(pd.config).not.toHaveProperty('rate_limit');
    expect(pd.config).toMatchObject({
      name: 'pagerduty',
      kind: 'pagerduty',
      routing_key_env: 'AISPM_PAGERDUTY_ROUTING_KEY',
    });
    // A critical finding pages and goes to the SIEM (continue); a low one only to the SIEM.
    expect(matchRoutes(r, finding({ severity: 'critical' })).map((x) => x.name)).toEqual(['page-oncall', 'siem']);
    expect(matchRoutes(r, finding({ severity: 'low' })).map((x) => x.name)).toEqual(['siem']);
  });

  it('accepts the example in the README', () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    const example = /```json\n([\s\S]*?)\n```/.exec(readme)![1]!;
    const r = parseRoutes(example, 'README.md');
    expect(r.maintenance[0]).toMatchObject({ name: 'db-patching', fromMinute: 23 * 60, toMinute: 60 });
    // As in Alertmanager, a finding a child took does not stay at the parent, even with continue.
    expect(matchRoutes(r, finding({ severity: 'critical', owasp_llm: ['LLM06'] })).map((x) => x.name)).toEqual([
      'page',
    ]);
    expect(matchRoutes(r, finding({ severity: 'critical', owasp_llm: ['LLM02'] })).map((x) => x.name)).toEqual([
      'root',
    ]);
  });

  it("applies Alertmanager's defaults and inherits options down the tree", () => {
    const r = routesOf({
      route: {
        destinations: ['hec'],
        group_by: ['type'],
        group_wait: '1m',
        rate_limit: { per_minute: 6 },
        routes: [
          {
            name: 'a',
            match: ['severity=critical'],
            repeat_interval: '1h',
            routes: [{ name: 'a1', match: ['asset=x'] }],
          },
          { name: 'b', group_by: ['asset', 'tenant', 'asset'], destinations: ['pd', 'hec'] },
        ],
      },
    });
    expect(r.root).toMatchObject({
      name: 'root',
      groupBy: ['tenant', 'type'],
      groupWaitMs: 60_000,
      groupIntervalMs: 300_000,
      repeatIntervalMs: 4 * 3_600_000,
    });
    const a1 = r.byName.get('a1')!;
    expect(a1).toMatchObject({
      destinations: ['hec'],
      groupBy: ['tenant', 'type'],
      groupWaitMs: 60_000,
      repeatIntervalMs: 3_600_000,
      rateLimit: { perMinute: 6, burst: 6 },
    });
    expect(r.byName.get('b')!.groupBy).toEqual(['tenant', 'asset']);
    expect(r.inhibitRules).toHaveLength(1);
    expect(r.inhibitRules[0]!.equal).toEqual(['tenant', 'asset']);
  });

  it('walks the tree: first match, continue for fan-out, the parent when no child matches', () => {
    const r = routesOf({
      route: {
        destinations: ['hec'],
        routes: [
          {
            name: 'injection',
            match: ['type=~prompt_.*|jailbreak'],
            routes: [{ name: 'inj-crit', match: ['severity>=critical'] }],
          },
          { name: 'atlas', match: ['mitre_atlas=AML.T0051'], continue: true },
          { name: 'acme', match: ['tenant=acme'] },
          { name: 'never', match: ['tenant=acme'] },
        ],
      },
    });
    const names = (f: Finding) => matchRoutes(r, f).map((x) => x.name);
    expect(names(finding({ severity: 'critical' }))).toEqual(['inj-crit']);
    expect(names(finding({ severity: 'medium' }))).toEqual(['injection']);
    expect(names(finding({ type: 'exfiltration' }))).toEqual(['atlas', 'acme']);
    expect(names(finding({ type: 'exfiltration', mitre_atlas: [] }))).toEqual(['acme']);
    expect(names(finding({ type: 'exfiltration', tenant: 'other', mitre_atlas: [] }))).toEqual(['root']);
  });

  it('parses matchers the way Alertmanager writes them', () => {
    const ok = (t: string) => {
      const r = parseMatcher(t);
      if (!r.ok) throw new Error(r.reason);
      return r.matcher;
    };
    expect(ok('severity >= high')).toMatchObject({ label: 'severity', op: '>=', value: 'high' });
    expect(ok('asset="a b=c"')).toMatchObject({ label: 'asset', op: '=', value: 'a b=c' });
    expect(ok('type=~prompt_.*').regex!.test('xprompt_injection')).toBe(false);
    expect(ok('owasp_llm!~LLM0[12]')).toMatchObject({ op: '!~' });
    const bad = (t: string) => {
      const r = parseMatcher(t);
      expect(r.ok).toBe(false);
      return r.ok ? '' : r.reason;
    };
    expect(bad('detector=x')).toMatch(/unknown label "detector".*use one of tenant, severity, type/);
    expect(bad('severity>=urgent')).toMatch(/unknown severity "urgent"/);
    expect(bad('type>=x')).toMatch(/orders severities only/);
    expect(bad('type=~(')).toMatch(/bad regular expression/);
    expect(bad('just text')).toMatch(/is not a matcher; write label=value/);
  });

  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('5 minutes')).toBeNull();
    expect(parseDuration('')).toBeNull();
  });

  it('refuses a bad file with the file, the place and what to write', () => {
    expect(errorOf({ route: { destinations: ['nope'] } }).message).toBe(
      'routes file test.json: at route.destinations[0]: no destination is named "nope"; define it under "destinations" or fix the name',
    );
    expect(errorOf({ route: { destinations: ['hec'], routes: [{ match: ['tenant=a'] }] } }).message).toMatch(
      /at route\.routes\[0\]\.name: every child route needs a unique "name"/,
    );
    expect(errorOf({ route: { destinations: ['hec'], routes: [{ name: 'x', match: ['sev=high'] }] } }).message).toMatch(
      /at route\.routes\[0\]\.match\[0\]: unknown label "sev"/,
    );
    expect(errorOf({ route: { destinations: ['hec'], group_wait: '5 min' } }).message).toMatch(
      /at route\.group_wait: write a duration like "30s"/,
    );
    expect(errorOf({ route: { destinations: ['hec'], group_by: ['user'] } }).message).toMatch(
      /at route\.group_by\[0\]: .*write one of "tenant", "type", "rule", "severity", "asset", "asset_type"/,
    );
    expect(errorOf({ route: { destinations: ['hec'], groupby: ['type'] } }).message).toMatch(
      /at route: unknown key "groupby"; remove or respell/,
    );
    expect(errorOf({ route: { destinations: ['hec'], match: ['tenant=a'] } }).message).toMatch(
      /root route matches every finding/,
    );
    expect(errorOf({ route: {} }).message).toMatch(/root route needs "destinations"/);
    expect(errorOf({ destinations: [{ name: 'x', kind: 'email' }] }).message).toMatch(
      /at destinations\[0\]\.kind: .*write one of "pagerduty", "splunk_hec", "syslog", "ocsf_http", "webhook", "slack"/,
    );
    expect(
      errorOf({ route: { destinations: ['hec'], routes: [{ name: 'root', match: ['tenant=a'] }] } }).message,
    ).toMatch(/route name "root" is used twice/);
    expect(errorOf({ version: 2 }).message).toMatch(/at version: write "version": 1/);
    expect(
      errorOf({
        silences: [
          {
            matchers: ['tenant=a'],
            starts_at: '2026-12-01T00:00:00Z',
            ends_at: '2026-11-01T00:00:00Z',
            created_by: 'me',
          },
        ],
      }).message,
    ).toMatch(/at silences\[0\]\.ends_at: must be after starts_at/);
    expect(
      errorOf({
        maintenance_windows: [
          {
            name: 'w',
            matchers: ['tenant=a'],
            weekdays: ['sat'],
            from: '02:00',
            to: '04:00',
            zone: 'Mars/Base',
            created_by: 'me',
          },
        ],
      }).message,
    ).toMatch(/at maintenance_windows\[0\]\.zone: unknown time zone "Mars\/Base"/);
    expect(() => parseRoutes('{ "version": 1, ', 'broken.json')).toThrow(/routes file broken\.json: not valid JSON/);
    expect(() => loadRoutes('/nonexistent/routes.json')).toThrow(/cannot be read .*AISPM_ALERT_ROUTES_FILE/);
  });

  it('loads from a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'routes-'));
    const file = join(dir, 'routes.json');
    writeFileSync(file, JSON.stringify({ ...base, route: { destinations: ['hec'], repeat_interval: '0s' } }));
    expect(() => loadRoutes(file)).toThrow(`routes file ${file}: at route.repeat_interval: must be more than 0`);
  });

  it('applies file silences in their time range and maintenance windows by weekday and zone', () => {
    const r = routesOf({
      silences: [
        {
          id: 'xmas',
          matchers: ['tenant=acme', 'severity<=medium'],
          starts_at: '2026-12-24T00:00:00Z',
          ends_at: '2026-12-27T00:00:00Z',
          created_by: 'ops',
          comment: 'holidays',
        },
      ],
      maintenance_windows: [
        // Saturdays 23:00 to Sunday 01:00, Berlin time (UTC+1 in December).
        {
          name: 'weekly',
          matchers: ['asset=db'],
          weekdays: ['sat'],
          from: '23:00',
          to: '01:00',
          zone: 'Europe/Berlin',
          created_by: 'ops',
        },
      ],
    });
    const low = finding({ severity: 'low' });
    expect(fileSilenceMutes(r, low, Date.parse('2026-12-25T12:00:00Z'))).toBe('xmas');
    expect(fileSilenceMutes(r, finding({ severity: 'high' }), Date.parse('2026-12-25T12:00:00Z'))).toBeNull();
    expect(fileSilenceMutes(r, low, Date.parse('2026-12-27T00:00:00Z'))).toBeNull();
    expect(
      fileSilenceMutes(r, finding({ tenant: 'other', severity: 'low' }), Date.parse('2026-12-25T12:00:00Z')),
    ).toBeNull();

    const w = r.maintenance[0]!;
    // 2026-12-05 is a Saturday.
    expect(inMaintenance(w, Date.parse('2026-12-05T21:59:00Z'))).toBe(false); // 22:59 Berlin
    expect(inMaintenance(w, Date.parse('2026-12-05T22:00:00Z'))).toBe(true); // 23:00 Berlin
    expect(inMaintenance(w, Date.parse('2026-12-05T23:59:00Z'))).toBe(true); // Sunday 00:59 Berlin
    expect(inMaintenance(w, Date.parse('2026-12-06T00:00:00Z'))).toBe(false); // Sunday 01:00 Berlin
    expect(inMaintenance(w, Date.parse('2026-12-06T22:30:00Z'))).toBe(false); // Sunday 23:30 Berlin
    expect(fileSilenceMutes(r, finding({ asset: 'db' }), Date.parse('2026-12-05T22:30:00Z'))).toBe('weekly');
    expect(fileSilenceMutes(r, finding({ asset: 'web' }), Date.parse('2026-12-05T22:30:00Z'))).toBeNull();
  });
});

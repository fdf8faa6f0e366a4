import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChdbStore, EVENTS_TABLE, MIGRATIONS_DIR, eventRow, migrate } from '@aispm/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_POLICY } from '../detectors/policy.ts';
import { findingRow } from '../findings/rows.ts';
import { POLICY, T0, event, openFinding } from './fixtures.ts';
import { readAssets, readInventory, readOpenFindings, readTenants } from './read.ts';

describe('the assets table and readInventory (chdb)', () => {
  let folder: string;
  let store: ChdbStore;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'aispm-inventory-'));
    store = await ChdbStore.open({ path: join(folder, 'chdb'), database: 'aispm' });
    // Events stored before the assets migration are filled in when it runs.
    const early = mkdtempSync(join(folder, 'early-'));
    for (const file of readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql') && f < '010'))
      copyFileSync(join(MIGRATIONS_DIR, file), join(early, file));
    await migrate(store, { dir: early });
    await store.insert(EVENTS_TABLE, [eventRow(event({ event_id: 'before', identity: 'svc-support@acme' }))]);
    await migrate(store);

    const mcp = event({
      kind: 'tool_call',
      provider: null,
      request_model: null,
      response_model: null,
      tool_name: 'search_docs',
      tool_risk: 'read',
      destination: 'mcp.acme.example:8443',
      attributes: { 'gen_ai.tool.type': 'extension' },
    });
    const rows = [
      event(),
      event({ agent: 'triage' }),
      mcp,
      event({
        kind: 'tool_call',
        provider: null,
        request_model: null,
        response_model: null,
        tool_name: 'send_email',
        destination: 'smtp.acme.example',
      }),
      event({
        app: 'side-project',
        agent: null,
        provider: 'deepseek',
        request_model: 'deepseek-chat',
        response_model: null,
        destination: 'api.deepseek.com',
      }),
      event({ tenant: 'other', app: 'theirs', agent: null }),
    ].map(eventRow);
    await store.insert(EVENTS_TABLE, rows);
    await store.insert(EVENTS_TABLE, [eventRow(mcp)]); // a replay: counted once

    const injection = openFinding({
      asset: 'acme/support/helper',
      asset_type: 'agent',
      type: 'content',
      rule: 'prompt_injection.direct',
      score: 0.9,
    });
    const resolved = openFinding({
      asset: 'acme/support/helper',
      asset_type: 'agent',
      type: 'excessive_agency',
      rule: 'excessive_agency.scope_exceeded',
    });
    await store.insert('findings', [
      findingRow(injection),
      findingRow({ ...injection, first_seen: T0 + 5_000_000, last_seen: T0 + 9_000_000 }),
      findingRow(resolved),
      findingRow(
        openFinding({ asset: 'acme/side-project/-', asset_type: 'app', type: 'shadow_ai', rule: 'shadow_ai.provider' }),
      ),
      findingRow(
        openFinding({
          asset: 'acme/model:gpt-4o-2024-08-06',
          asset_type: 'model',
          type: 'silent_model_change',
          rule: 'silent_model_change.substitution',
          severity: 'medium',
        }),
      ),
    ]);
    await store.insert('findings', [findingRow({ ...resolved, status: 'resolved', occurrences: 0 })]);
  });
  afterAll(async () => {
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('lists every asset kind the events name, once per name, with first/last seen, events, apps and agents', async () => {
    const assets = await readAssets(store, 'acme');
    expect(assets.map((a) => `${a.kind}:${a.name}`)).toEqual([
      'agent:helper',
      'agent:triage',
      'app:side-project',
      'app:support',
      'destination:mcp.acme.example:8443',
      'destination:smtp.acme.example',
      'endpoint:api.deepseek.com',
      'endpoint:api.openai.com',
      'identity:svc-support@acme',
      'mcp_server:mcp.acme.example:8443',
      'model:deepseek-chat',
      'model:gpt-4o',
      'model:gpt-4o-2024-08-06',
      'provider:deepseek',
      'provider:openai',
      'tool:search_docs',
      'tool:send_email',
    ]);
    const byRef = new Map(assets.map((a) => [`${a.kind}:${a.name}`, a]));
    expect(byRef.get('app:support')).toMatchObject({ events: 5, apps: ['support'], agents: ['helper', 'triage'] });
    expect(byRef.get('provider:openai')).toMatchObject({ events: 3, apps: ['support'], agents: ['helper', 'triage'] });
    expect(byRef.get('mcp_server:mcp.acme.example:8443')).toMatchObject({ events: 1, agents: ['helper'] });
    expect(byRef.get('app:side-project')).toMatchObject({ events: 1, agents: [] });
    const support = byRef.get('app:support')!;
    expect(support.first_seen).toBeLessThan(support.last_seen);
    expect(support.last_seen - support.first_seen).toBe(4_000_000);
    expect((await readAssets(store, 'acme', { kind: 'tool' })).map((a) => a.name)).toEqual([
      'search_docs',
      'send_email',
    ]);
    expect((await readAssets(store, 'acme', { limit: 2 })).length).toBe(2);
  });

  it('keeps tenants apart', async () => {
    expect((await readAssets(store, 'other')).map((a) => `${a.kind}:${a.name}`)).toEqual([
      'app:theirs',
      'endpoint:api.openai.com',
      'model:gpt-4o',
      'model:gpt-4o-2024-08-06',
      'provider:openai',
    ]);
    expect(await readTenants(store)).toEqual(['acme', 'other']);
    expect(await readAssets(store, 'nobody')).toEqual([]);
  });

  it('judges each asset by the policy and counts its open findings', async () => {
    const inventory = await readInventory(store, 'acme', POLICY);
    const byRef = new Map(inventory.map((a) => [`${a.kind}:${a.name}`, a]));
    expect(byRef.get('provider:openai')).toMatchObject({ approval: 'approved', owner: null });
    expect(byRef.get('provider:deepseek')).toMatchObject({ approval: 'unapproved' });
    expect(byRef.get('model:gpt-4o-2024-08-06')).toMatchObject({ approval: 'approved', open_findings: 1 });
    expect(byRef.get('model:deepseek-chat')).toMatchObject({ approval: 'unapproved' });
    expect(byRef.get('app:support')).toMatchObject({ approval: 'approved', owner: 'team-support' });
    expect(byRef.get('app:side-project')).toMatchObject({ approval: 'unapproved', open_findings: 1 });
    expect(byRef.get('endpoint:api.openai.com')).toMatchObject({ approval: 'approved' });
    expect(byRef.get('endpoint:api.deepseek.com')).toMatchObject({ approval: 'unapproved' });
    // A tool's destination is no AI service: the exfiltration detector judges it, not the inventory policy.
    expect(byRef.get('destination:smtp.acme.example')).toMatchObject({ approval: 'unjudged' });
    expect(byRef.get('mcp_server:mcp.acme.example:8443')).toMatchObject({ approval: 'unapproved' });
    expect(byRef.get('agent:helper')).toMatchObject({ approval: 'unjudged', owner: 'team-helper', open_findings: 1 });
    expect(byRef.get('tool:send_email')).toMatchObject({ approval: 'unjudged', owner: 'platform' });
    // No lists in the policy: nothing is judged.
    expect((await readInventory(store, 'acme', EMPTY_POLICY)).every((a) => a.approval === 'unjudged')).toBe(true);
  });

  it('reads open findings merged by id, the resolved one left out', async () => {
    const open = await readOpenFindings(store, 'acme');
    expect(open.map((f) => f.rule)).toEqual([
      'prompt_injection.direct',
      'shadow_ai.provider',
      'silent_model_change.substitution',
    ]);
    expect(open[0]).toMatchObject({
      tenant: 'acme',
      asset: 'acme/support/helper',
      severity: 'high',
      occurrences: 2,
      first_seen: T0,
      last_seen: T0 + 9_000_000,
      mitre_atlas: ['AML.T0051.000'],
      status: 'open',
    });
    expect(await readOpenFindings(store, 'acme', 1)).toHaveLength(1);
    expect(await readOpenFindings(store, 'other')).toEqual([]);
  });
});

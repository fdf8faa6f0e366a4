import type { Finding } from '@aispm/core';
import { matchesAll } from './matchers.ts';
import type { CompiledRoute, Routes } from './types.ts';

/**
 * The routes a finding goes to, as Alertmanager walks its tree: depth first, the
 * first matching child wins unless it says `continue`, in which case the following
 * siblings are tried too; a route none of whose children match takes the finding
 * itself. The root matches everything, so every finding gets at least one route.
 */
export function matchRoutes(routes: Routes, finding: Finding): CompiledRoute[] {
  const out: CompiledRoute[] = [];
  walk(routes.root, finding, out);
  return out;
}

function walk(route: CompiledRoute, finding: Finding, out: CompiledRoute[]): boolean {
  if (!matchesAll(route.matchers, finding)) return false;
  let matched = false;
  for (const child of route.routes) {
    if (!walk(child, finding, out)) continue;
    matched = true;
    if (!child.continue) break;
  }
  if (!matched) out.push(route);
  return true;
}

/** A route by its name, for `aispm alerts test ROUTE`. */
export function findRoute(routes: Routes, name: string): CompiledRoute | undefined {
  return routes.byName.get(name);
}

import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');

interface LsNode {
  path?: string;
  dependencies?: Record<string, LsNode>;
}

/** Bytes of the files under `dir`, not following links and leaving out nested node_modules (counted as packages of their own). */
function dirBytes(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) bytes += dirBytes(path);
    else if (entry.isFile()) bytes += lstatSync(path).size;
  }
  return bytes;
}

/** What `npm pack` would put in the tarball of a workspace, unpacked. */
async function packedBytes(dir: string): Promise<number> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir });
  return (JSON.parse(stdout) as { unpackedSize: number }[])[0]!.unpackedSize;
}

export interface InstallFootprint {
  bytes: number;
  packages: number;
  /** The largest packages, name → bytes, biggest first. */
  largest: [string, number][];
}

/**
 * The install size of @aispm/shim and its production dependency tree as it is
 * installed here: `npm ls --omit=dev --all --long --json -w services/shim` lists
 * every package the shim needs in production (optional ones included, as npm
 * installs them, e.g. chdb's native library); each package directory is counted
 * once (deduplicated by real path), by the apparent size of its files without
 * its nested node_modules. Workspaces (the shim itself, @aispm/core) count what
 * `npm pack` would publish of them.
 */
export async function shimInstallFootprint(): Promise<InstallFootprint> {
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--long', '--json', '-w', 'services/shim'], {
    cwd: root,
    maxBuffer: 64 * 2 ** 20,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '{}' })); // npm ls exits 1 on extraneous/missing.
  const tree = JSON.parse(stdout) as LsNode;
  const dirs = new Set<string>();
  const walk = (node: LsNode): void => {
    for (const dep of Object.values(node.dependencies ?? {})) {
      if (dep.path) dirs.add(realpathSync(dep.path));
      walk(dep);
    }
  };
  walk(tree);
  const sizes: [string, number][] = [];
  for (const dir of dirs) {
    const inModules = dir.includes(`${sep}node_modules${sep}`);
    const name = inModules ? dir.slice(dir.lastIndexOf(`node_modules${sep}`) + 13) : relative(root, dir);
    sizes.push([name, inModules ? dirBytes(dir) : await packedBytes(dir)]);
  }
  sizes.sort((a, b) => b[1] - a[1]);
  return { bytes: sizes.reduce((n, [, b]) => n + b, 0), packages: sizes.length, largest: sizes.slice(0, 5) };
}

/** Wall milliseconds of `node -e "await import('@aispm/shim')"` in fresh processes, one after another. */
export async function shimImportTimes(times: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = performance.now();
    await run(process.execPath, ['--input-type=module', '-e', "await import('@aispm/shim')"], { cwd: root });
    samples.push(performance.now() - start);
  }
  return samples;
}

if (process.argv[1] === import.meta.filename) {
  const footprint = await shimInstallFootprint();
  const times = (await shimImportTimes(10)).sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ mb: footprint.bytes / 1e6, packages: footprint.packages, largest: footprint.largest, import_ms: times }, null, 1)}\n`,
  );
}

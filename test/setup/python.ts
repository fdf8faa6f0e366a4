import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root, and the test venv in it (git- and prettier-ignored). */
export const REPO = join(import.meta.dirname, '../..');
export const VENV = join(REPO, '.venv-test');
export const REQUIREMENTS = join(REPO, 'test/python-requirements.txt');

const INSTALL_HINT =
  'install Python 3.8+ with venv and pip (Debian/Ubuntu: `apt-get install python3 python3-venv python3-pip`; macOS: `brew install python`)';

export interface PythonEnv {
  /** The venv's python. */
  python: string;
  /** A console script of a package installed in the venv, e.g. bin('detect-secrets'). */
  bin(name: string): string;
}

/**
 * Ensures `<repo>/.venv-test` exists with the packages of
 * test/python-requirements.txt. A no-op (a file read and a hash) when the venv
 * was last set up from the same requirements; otherwise creates it with
 * `python3 -m venv` and pip-installs them. Throws, saying what to install, when
 * python3, venv or pip is missing: tests that need it fail, never skip.
 */
export async function ensurePythonVenv(): Promise<PythonEnv> {
  const requirements = readFileSync(REQUIREMENTS, 'utf8');
  const hash = createHash('sha256').update(requirements).digest('hex');
  const dir = process.platform === 'win32' ? 'Scripts' : 'bin';
  const python = join(VENV, dir, process.platform === 'win32' ? 'python.exe' : 'python');
  const stamp = join(VENV, '.requirements.sha256');
  const env: PythonEnv = { python, bin: (name) => join(VENV, dir, name) };
  if (existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) return env;

  const system = process.env.PYTHON ?? 'python3';
  try {
    await run(system, ['--version']);
  } catch (err) {
    throw new Error(`${system} is not available (${(err as Error).message}); ${INSTALL_HINT}`);
  }
  if (!existsSync(python)) {
    rmSync(VENV, { recursive: true, force: true });
    try {
      await run(system, ['-m', 'venv', VENV]);
    } catch (err) {
      rmSync(VENV, { recursive: true, force: true });
      throw new Error(`\`${system} -m venv ${VENV}\` failed: ${stderrOf(err)}; ${INSTALL_HINT}`);
    }
  }
  try {
    await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '-r', REQUIREMENTS], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    throw new Error(
      `pip install -r ${REQUIREMENTS} into ${VENV} failed: ${stderrOf(err)}; ${INSTALL_HINT}, and let pip reach its package index`,
    );
  }
  writeFileSync(stamp, `${hash}\n`);
  return env;
}

function stderrOf(err: unknown): string {
  const stderr = (err as { stderr?: string }).stderr;
  return (stderr?.trim() || (err as Error).message).slice(-2000);
}

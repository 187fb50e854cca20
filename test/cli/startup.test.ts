import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built CLI, in a copy of the package made the way `npm ci` makes it (sources, bin/, the
// `prepare` build into dist/), so this file neither depends on nor rewrites the working tree's dist/.
// A loader hook logs every module URL the CLI loads (ESM: our code and the packages' entry points).

const repo = fileURLToPath(new URL('../..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const SOURCES = ['cli', 'shared', 'local', 'simulator'];

const HOOKS = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) {
  appendFileSync(log, url + '\\n');
  return next(url, context);
}`;
const REGISTER = `
import { register } from 'node:module';
register('./hooks.mjs', import.meta.url, { data: { log: process.env.STARTUP_TEST_LOG } });`;

let pkg = '';

beforeAll(() => {
  pkg = mkdtempSync(join(tmpdir(), 'convex-bridge-startup-'));
  for (const entry of [...SOURCES, 'bin', 'package.json', 'tsconfig.json', 'tsconfig.build.json'])
    cpSync(join(repo, entry), join(pkg, entry), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: pkg,
    encoding: 'utf8',
  });
  if (build.status !== 0)
    throw new Error(`npm run build (tsc -p tsconfig.build.json) failed:\n${build.stdout}`);
  writeFileSync(join(pkg, 'hooks.mjs'), HOOKS);
  writeFileSync(join(pkg, 'register.mjs'), REGISTER);
}, 120_000);

afterAll(() => {
  if (pkg) rmSync(pkg, { recursive: true, force: true });
});

/** Runs a bin of the built copy; resolves with its output and the module URLs it loaded. */
function run(
  binName: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[] }> {
  const log = join(pkg, `loaded-${randomUUID()}.txt`);
  writeFileSync(log, '');
  // Only the test's settings: none of the bridge's from the environment running the tests.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(BRIDGE|CONVEX)_/.test(k)),
  );
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(join(pkg, 'register.mjs')).href, join(pkg, 'bin', binName), ...args],
    { cwd: pkg, env: { ...inherited, ...env, STARTUP_TEST_LOG: log }, stdio: 'pipe' },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      const loaded = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      resolve({ code, stdout, stderr, loaded });
    });
  });
}

/** Our own modules among `loaded`, as paths inside the package ('dist/cli/main.js'). */
function ours(loaded: string[]): string[] {
  const root = pathToFileURL(`${pkg}/`).href;
  return loaded.filter((u) => u.startsWith(root)).map((u) => u.slice(root.length));
}

const packages = (loaded: string[]) =>
  loaded.filter((u) => u.includes('/node_modules/')).map((u) => u.split('/node_modules/').at(-1));

describe('the built CLI (dist/)', () => {
  it('--help lists the commands and loads no command module, local mode or simulator', async () => {
    const help = await run('convex-bridge.js', ['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    for (const command of [
      'start',
      'export',
      'setup',
      'status',
      'tail',
      'resync',
      'import',
      'send',
      'clear-tables',
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    const mine = ours(help.loaded);
    expect(mine).toContain('dist/cli/main.js'); // the compiled CLI, not the TypeScript
    expect(mine.filter((p) => !p.startsWith('bin/') && !p.startsWith('dist/'))).toEqual([]);
    expect(mine.filter((p) => /^dist\/(local|simulator)\//.test(p))).toEqual([]);
    expect(mine.filter((p) => /^dist\/cli\/.*-commands?\.js$/.test(p))).toEqual([]);
    expect(packages(help.loaded)).toEqual([]); // no AWS SDK, zod, tsx...

    const startHelp = await run('convex-bridge.js', ['start', '--help']);
    expect(startHelp.code).toBe(0);
    expect(startHelp.stdout).toContain('Usage: convex-bridge start');
    expect(ours(startHelp.loaded).filter((p) => /^dist\/(local|simulator)\//.test(p))).toEqual([]);
  });

  it('status loads neither local mode, the simulator nor the import side', async () => {
    const env = { BRIDGE_STATE_TABLE: `startup-${randomUUID().slice(0, 8)}` };
    const setup = await run('convex-bridge.js', ['setup'], env);
    expect(setup).toMatchObject({ code: 0, stderr: '' });
    expect(setup.stdout).toContain(`state table ${env.BRIDGE_STATE_TABLE}`);
    const status = await run('convex-bridge.js', ['status', '--json'], env);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout)).toMatchObject({ phase: 'not started' });
    const mine = ours(status.loaded);
    expect(mine).toContain('dist/cli/status-command.js');
    expect(
      mine.filter((p) =>
        /^dist\/(local|simulator|shared\/import|shared\/convex|shared\/wiring)\/|^dist\/cli\/(export|import|start|tail)-command/.test(
          p,
        ),
      ),
    ).toEqual([]);
    // Only the one SDK client it needs, and no schema library.
    const loadedPackages = packages(status.loaded);
    expect(loadedPackages.filter((p) => p?.startsWith('tsx/'))).toEqual([]);
    expect(
      loadedPackages.filter((p) => /^(zod|@aws-sdk\/client-(?!dynamodb))/.test(p ?? '')),
    ).toEqual([]);
  });

  it('start validates its options before loading local mode', async () => {
    const bad = await run('convex-bridge.js', ['start', '--docs', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--docs must be a whole number from 0 to 2000000, got 'many'");
    const mine = ours(bad.loaded);
    expect(mine).toContain('dist/cli/start-command.js');
    expect(mine.filter((p) => /^dist\/(local|simulator)\//.test(p))).toEqual([]);
  });

  it('convex-bridge-sim runs the compiled simulator', async () => {
    const help = await run('convex-bridge-sim.js', ['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('Usage: convex-bridge-sim');
    expect(ours(help.loaded)).toContain('dist/simulator/cli.js');
  });

  it('runs the TypeScript through tsx, saying so, when a source is newer than dist/', async () => {
    const source = join(pkg, 'cli', 'output.ts');
    const { atime, mtime } = statSync(source);
    utimesSync(source, atime, new Date(Date.now() + 60_000));
    try {
      const help = await run('convex-bridge.js', ['--help']);
      expect(help.code).toBe(0);
      expect(help.stderr).toBe(
        "convex-bridge: cli/output.ts changed since the build; running the TypeScript through tsx ('npm run build' starts faster)\n",
      );
      expect(help.stdout).toContain('Usage: convex-bridge <command>');
      const mine = ours(help.loaded);
      expect(mine).toContain('cli/main.ts');
      expect(mine.filter((p) => p.startsWith('dist/'))).toEqual([]);
    } finally {
      utimesSync(source, atime, mtime);
    }
    const fresh = await run('convex-bridge.js', ['--help']);
    expect(fresh.stderr).toBe('');
    expect(ours(fresh.loaded)).toContain('dist/cli/main.js');
  });
});

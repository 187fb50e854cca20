import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The CLI's current TypeScript through tsx, with the bin's Node 20 warning filter: tests never run
// an out-of-date dist/ build, and see no "dist/ is stale" note from bin/. The built CLI and bin/'s
// choice between dist/ and the sources are tested in test/cli/startup.test.ts.
const main = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const quietWarning = new URL('../../bin/quiet-node20-sdk-warning.js', import.meta.url).href;
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs `convex-bridge` as a real process with extra env, feeding `stdin`; resolves on exit. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  stdin = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', quietWarning, '--import', tsx, main, ...args],
      {
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

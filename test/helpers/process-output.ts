import type { ChildProcess } from 'node:child_process';

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Collects a child's stdout and stderr; `waitFor` polls the text (terminal escapes removed). */
export function watchOutput(child: ChildProcess) {
  let raw = '';
  const keep = (chunk: Buffer) => {
    raw += chunk.toString('utf8');
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const text = () => raw.replace(ANSI, '');
  const waitFor = async (pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = text().match(pattern);
      if (match) return match;
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(
          `no ${pattern} in the output (exit ${child.exitCode}):\n${text().slice(-3000)}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { raw: () => raw, text, waitFor };
}

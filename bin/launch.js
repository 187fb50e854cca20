// Starts one of the package's programs from its compiled JavaScript in dist/ (`npm run build`,
// which `npm ci` runs as the `prepare` step). When dist/ is missing or older than the TypeScript
// sources (edited, or another branch checked out, without a rebuild), it runs the sources through
// tsx instead and says so in one line on stderr: never stale code, and no silent slow start.
import { readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

/** Every directory tsconfig.build.json compiles into dist/. */
export const SOURCE_DIRS = ['cli', 'shared', 'local', 'simulator'];

const COMPILED = {
  '.ts': '.js',
  '.mts': '.mjs',
  '.cts': '.cjs',
  '.js': '.js',
  '.cjs': '.cjs',
  '.mjs': '.mjs',
};

function mtimeMs(url) {
  return statSync(url, { throwIfNoEntry: false })?.mtimeMs;
}

/**
 * Why dist/ cannot be trusted (a missing or older compiled file, naming its source), or undefined
 * when every source has a compiled file at least as new. Source folders that are absent (an
 * install that ships only dist/) are skipped, and so are dot files (editor locks). Two stats per
 * source file: a few milliseconds.
 */
export function staleReason(entry) {
  if (mtimeMs(new URL(`dist/${entry}.js`, root)) === undefined) return 'dist/ is not built';
  for (const dir of SOURCE_DIRS) {
    let files;
    try {
      files = readdirSync(new URL(`${dir}/`, root), { recursive: true });
    } catch {
      continue;
    }
    for (const file of files) {
      const ext = /\.[cm]?[jt]s$/.exec(file)?.[0];
      const source = `${dir}/${file.replaceAll('\\', '/')}`;
      if (ext === undefined || file.endsWith(`.d${ext}`) || source.includes('/.')) continue;
      const compiled = `dist/${source.slice(0, -ext.length)}${COMPILED[ext]}`;
      const builtAt = mtimeMs(new URL(compiled, root));
      if (builtAt === undefined) return `${compiled} is missing`;
      if (builtAt < (mtimeMs(new URL(source, root)) ?? 0))
        return `${source} changed since the build`;
    }
  }
  return undefined;
}

/** Imports `dist/<entry>.js`, or `<entry>.ts` through tsx when dist/ is stale. */
export async function launch(program, entry) {
  const reason = staleReason(entry);
  if (reason === undefined) {
    await import(new URL(`dist/${entry}.js`, root).href);
    return;
  }
  const source = new URL(`${entry}.ts`, root);
  if (mtimeMs(source) === undefined) {
    process.stderr.write(
      `${program}: ${reason} and its sources are not here; run 'npm run build'\n`,
    );
    process.exit(1);
  }
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`${program}: ${reason}; run 'npm run build' (tsx is not installed)\n`);
    process.exit(1);
  }
  process.stderr.write(
    `${program}: ${reason}; running the TypeScript through tsx ('npm run build' starts faster)\n`,
  );
  register();
  await import(source.href);
}

/**
 * How the Lambda bundles are built (esbuild, through the CDK's NodejsFunction). Plain values with
 * no CDK imports, so the benchmark can build byte-identical bundles to measure.
 */
export const LAMBDA_BUNDLING = {
  target: 'node22',
  minify: true,
  sourceMap: true,
  // The maps keep positions and names but not the sources: a stack trace needs no source text,
  // and with source maps enabled Node reads the whole map at start-up (4.9 MB -> 1.5 MB for the
  // exporter; see README "Performance").
  sourcesContent: false,
  keepNames: true,
  // Prefer the ES module build of packages that ship both (the AWS SDK clients): esbuild can then
  // leave out what the handlers never import, where the CommonJS build came whole.
  mainFields: ['module', 'main'] as string[],
  // Some bundled CommonJS dependencies call require(); ESM output needs it defined.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

/** NODE_OPTIONS the functions run with: stack traces through the source maps above. */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';

/** Each function's handler module, relative to the project root. */
export const LAMBDA_ENTRIES = {
  export: 'lambdas/export/handler.ts',
  import: 'lambdas/import/handler.ts',
} as const;

/**
 * How the Lambda bundles are built (esbuild, through the CDK's NodejsFunction). Plain values with
 * no CDK imports, so the benchmark can build byte-identical bundles to measure.
 */
export const LAMBDA_BUNDLING = {
  target: 'node22',
  minify: true,
  sourceMap: true,
  keepNames: true,
  // Some bundled CommonJS dependencies call require(); ESM output needs it defined.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
} as const;

/** Each function's handler module, relative to the project root. */
export const LAMBDA_ENTRIES = {
  export: 'lambdas/export/handler.ts',
  import: 'lambdas/import/handler.ts',
} as const;

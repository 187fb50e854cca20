/**
 * The dependency rules of docs/architecture.md, checked by `npm run lint`. Layers, inner to outer:
 *   core      shared/{ports,export,import,events,values,config} + shared/{errors,env,names,retry,version}.ts
 *   adapters  shared/{adapters,convex,aws,observability,setup}: the SDKs and Convex HTTP live here
 *   wiring    shared/wiring: builds adapters from config for the entry points
 *   entry     lambdas/ (thin handlers), cli/, local/, bench/
 *   infra     infra/: CDK, which may take only shared constants from the runtime
 * A dependency may point inward only.
 */
const CORE =
  '^shared/(ports|export|import|events|values|config)/|^shared/(errors|env|names|retry|version)\\.ts$';
const ADAPTERS = '^shared/(adapters|convex|aws|observability|setup)/';
const WIRING = '^shared/wiring/';
const SDKS = '^node_modules/(@aws-sdk|@smithy|@aws-lambda-powertools|@middy)/';
const CDK = '^node_modules/(aws-cdk-lib|constructs|cdk-nag|aws-cdk)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-no-sdk',
      comment: 'The core talks to AWS and Convex only through its ports (shared/ports).',
      severity: 'error',
      from: { path: CORE },
      to: { path: SDKS },
    },
    {
      name: 'core-inward-only',
      comment: 'The core never imports adapters, wiring, entry points, infra or the simulator.',
      severity: 'error',
      from: { path: CORE },
      to: { path: `${ADAPTERS}|${WIRING}|^(lambdas|cli|local|bench|infra|simulator)/` },
    },
    {
      name: 'adapters-no-outer-layers',
      comment: 'Adapters implement ports; they do not build themselves or know who runs them.',
      severity: 'error',
      from: { path: ADAPTERS },
      to: { path: `${WIRING}|^(lambdas|cli|local|bench|infra|simulator)/` },
    },
    {
      name: 'wiring-no-entry-points',
      severity: 'error',
      from: { path: WIRING },
      to: { path: '^(lambdas|cli|local|bench|infra|simulator)/' },
    },
    {
      name: 'runtime-no-cdk',
      comment: 'Runtime code never imports CDK or the CDK app.',
      severity: 'error',
      from: { path: '^(shared|lambdas|cli|local|simulator)/' },
      to: { path: `^infra/|${CDK}` },
    },
    {
      name: 'infra-only-shared-constants',
      comment: 'The CDK app takes env names and metric/table names from the runtime, nothing else.',
      severity: 'error',
      from: { path: '^infra/' },
      to: {
        path: '^(shared|lambdas|cli|local|simulator|bench)/',
        pathNot: '^shared/(env|names)\\.ts$',
      },
    },
    {
      name: 'lambdas-core-and-wiring-only',
      comment:
        'A handler composes core and adapters; it never reaches into the CLI, local mode or the simulator.',
      severity: 'error',
      from: { path: '^lambdas/' },
      to: {
        path: '^(cli|local|bench|infra|simulator)/|^lambdas/',
        pathNot: '^lambdas/[^/]+/handler\\.ts$',
      },
    },
    {
      name: 'no-entry-point-imports-lambdas',
      comment:
        'The CLI and local mode use the core, never a Lambda folder (bench may load a handler to measure it).',
      severity: 'error',
      from: { path: '^(cli|local)/' },
      to: { path: '^lambdas/' },
    },
    {
      name: 'bench-only-lambda-handlers',
      severity: 'error',
      from: { path: '^bench/' },
      to: { path: '^lambdas/', pathNot: '^lambdas/[^/]+/handler\\.ts$' },
    },
    {
      name: 'local-not-cli',
      comment: 'The CLI starts local mode (lazily); local mode never calls back into the CLI.',
      severity: 'error',
      from: { path: '^local/' },
      to: { path: '^cli/' },
    },
    {
      name: 'simulator-standalone',
      comment: 'The simulator stands in for Convex: it shares plain values only.',
      severity: 'error',
      from: { path: '^simulator/' },
      to: { path: '^(lambdas|cli|local|bench|infra)/|^shared/', pathNot: '^shared/values/' },
    },
    {
      name: 'consumer-standalone',
      comment:
        'The reference consumer is copied by users: it may use the event types and plain values, nothing of the exporter or any package.',
      severity: 'error',
      from: { path: '^shared/consumer/' },
      to: {
        path: '^(shared|lambdas|cli|local|bench|infra|simulator)/|^node_modules/',
        pathNot: '^shared/(consumer|events|values)/',
      },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|cdk\\.out)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};

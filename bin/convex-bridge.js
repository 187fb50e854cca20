#!/usr/bin/env node
// Runs the compiled CLI (dist/cli/main.js); see launch.js for when it runs the TypeScript instead.
import './quiet-node20-sdk-warning.js';
import { launch } from './launch.js';

await launch('convex-bridge', 'cli/main');

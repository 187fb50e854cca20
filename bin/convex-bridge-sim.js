#!/usr/bin/env node
// Runs the compiled simulator (dist/simulator/cli.js); see launch.js for when it runs the TypeScript.
import './quiet-node20-sdk-warning.js';
import { launch } from './launch.js';

await launch('convex-bridge-sim', 'simulator/cli');

// Builds the component: `node build.mjs [OUT]` (default
// `../../target/plugins/body-validator-js.wasm`), after `npm ci`.
//
// The world (`wit/body-validator.wit`) names Portico's contract
// (`portico:plugin@0.2.1`); the contract itself stays in the repository's
// `wit/plugin.wit`, copied here into `build/wit/deps/` (ignored) so that
// ComponentizeJS resolves it as a dependency.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, '../../target/plugins/body-validator-js.wasm'));
const wit = join(here, 'build/wit');

await mkdir(join(wit, 'deps/portico'), { recursive: true });
await copyFile(join(here, 'wit/body-validator.wit'), join(wit, 'body-validator.wit'));
await copyFile(join(here, '../../wit/plugin.wit'), join(wit, 'deps/portico/plugin.wit'));

const { component } = await componentize({
  sourcePath: join(here, 'validator.js'),
  witPath: wit,
  worldName: 'body-validator',
  // No `wasi:http` import (the gateway links WASI without it); stdio stays,
  // so `console.log` reaches the gateway's log.
  disableFeatures: ['http', 'fetch-event'],
});
await mkdir(dirname(out), { recursive: true });
await writeFile(out, component);
console.error(`body-validator-js: ${component.length} bytes in ${out}`);

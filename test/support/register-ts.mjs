// Lets child Node processes started by tests run the TypeScript sources directly:
// `node --import ./test/support/register-ts.mjs worker.ts`. Multi-process tests need real
// separate processes, and Jest's own transform does not reach them.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);

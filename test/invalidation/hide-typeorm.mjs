// Module hooks that make typeorm and @nestjs/typeorm unresolvable, as in an app that does not
// install them: `node --import ./test/support/register-ts.mjs --import ./test/invalidation/hide-typeorm.mjs`.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
    export async function resolve(specifier, context, nextResolve) {
      if (/^(@nestjs\\/)?typeorm(\\/|$)/.test(specifier)) {
        const error = new Error("Cannot find package '" + specifier + "'");
        error.code = 'ERR_MODULE_NOT_FOUND';
        throw error;
      }
      return nextResolve(specifier, context);
    }`)}`,
);

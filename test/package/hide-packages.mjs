// Module hooks that make the packages named in HIDE_PACKAGES (comma-separated) unresolvable from
// anywhere, as in an app that does not install them:
//   HIDE_PACKAGES=memjs,ioredis node --import ./test/support/register-ts.mjs --import ./test/package/hide-packages.mjs app.ts
import { register } from 'node:module';

const hidden = (process.env.HIDE_PACKAGES ?? '').split(',').filter(Boolean);

register(
  `data:text/javascript,${encodeURIComponent(`
    let hidden = [];
    export function initialize(data) {
      hidden = data.hidden;
    }
    export async function resolve(specifier, context, nextResolve) {
      if (hidden.some((name) => specifier === name || specifier.startsWith(name + '/'))) {
        const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL);
        error.code = 'ERR_MODULE_NOT_FOUND';
        throw error;
      }
      return nextResolve(specifier, context);
    }`)}`,
  { data: { hidden } },
);

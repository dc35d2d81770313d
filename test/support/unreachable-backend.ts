import type { CacheBackend } from '../../lib/index.js';

/** A backend whose server is gone: every call fails the way a client library's would. */
export class UnreachableBackend implements CacheBackend {
  private fail(): never {
    throw new Error('connect ECONNREFUSED 127.0.0.1:1');
  }
  get = () => this.fail();
  set = () => this.fail();
  add = () => this.fail();
  delete = () => this.fail();
  touch = () => this.fail();
  incr = () => this.fail();
  clear = () => this.fail();
}

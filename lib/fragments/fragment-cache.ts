import { Injectable } from '@nestjs/common';
import { Caches } from '../caches.js';
import type { Cache } from '../core/cache.js';
import type { TimeoutSeconds } from '../core/timeouts.js';
import { checkDependencies, type Dependency } from '../invalidation/dependencies.js';
import { versionedKeyPart } from '../invalidation/generations.js';
import { makeTemplateFragmentKey } from './make-template-fragment-key.js';

/** The alias Django's `{% cache %}` tag prefers when none is named, before `default`. */
export const TEMPLATE_FRAGMENTS_ALIAS = 'template_fragments';

export interface FragmentCacheOptions {
  /** The alias to keep the fragment in; else `template_fragments` if configured, else `default`. */
  cache?: string;
  /**
   * Entities the fragment is rendered from: the key then includes their generations (see
   * "Invalidation when rows change"). Row ids come from the `varyOn` values, as one array:
   * `[[Recipe, (varyOn) => varyOn[0]]]`.
   */
  dependsOn?: Dependency<unknown[]>[];
}

/**
 * Caches rendered pieces of a page (Django's `{% cache %}` tag), from code or from any template
 * engine. Concurrent misses of a fragment render it once.
 *
 * @example const sidebar = await fragments.render('sidebar', [user.id], 500, () => renderSidebar(user));
 */
@Injectable()
export class FragmentCache {
  constructor(private readonly caches: Caches) {}

  /**
   * The stored fragment, or `render()`'s output, stored for `timeout` seconds (`null`: forever;
   * `undefined`: the alias default).
   */
  render(
    name: string,
    varyOn: Iterable<unknown>,
    timeout: TimeoutSeconds | undefined,
    render: () => string | Promise<string>,
    options: FragmentCacheOptions = {},
  ): Promise<string> {
    const observability = this.caches.observability;
    if (!observability?.observing) return this.renderCached(name, varyOn, timeout, render, options);
    const cache = this.aliasFor(options.cache);
    const attributes = {
      'cache.alias': cache.alias,
      'cache.operation': 'fragment',
      'cache.backend': cache.backendName,
      'cache.fragment': name,
    };
    const rendering = () => {
      observability.markRan();
      return render();
    };
    return observability.observe(
      'cache.fragment',
      `{% cache ${name} %}`,
      attributes,
      () => this.renderCached(name, varyOn, timeout, rendering, options),
      (ran) => !ran,
    );
  }

  private renderCached(
    name: string,
    varyOn: Iterable<unknown>,
    timeout: TimeoutSeconds | undefined,
    render: () => string | Promise<string>,
    options: FragmentCacheOptions,
  ): Promise<string> {
    const cache = this.aliasFor(options.cache);
    const dependsOn = checkDependencies(options.dependsOn, `FragmentCache.render('${name}')`);
    if (dependsOn === undefined || dependsOn.length === 0) {
      return cache.getOrSet(makeTemplateFragmentKey(name, varyOn), render, timeout);
    }
    const values = [...varyOn];
    return versionedKeyPart(cache, dependsOn, values, timeout).then((part) =>
      cache.getOrSet(`${makeTemplateFragmentKey(name, values)}.${part}`, render, timeout),
    );
  }

  /** The alias named, else Django's choice: `template_fragments` when configured, else `default`. */
  aliasFor(alias: string | undefined): Cache {
    if (alias !== undefined) return this.caches.get(alias);
    return this.caches.has(TEMPLATE_FRAGMENTS_ALIAS) ? this.caches.get(TEMPLATE_FRAGMENTS_ALIAS) : this.caches.default;
  }
}

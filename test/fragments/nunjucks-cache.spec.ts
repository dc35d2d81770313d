import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Render, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import nunjucks from 'nunjucks';
import request from 'supertest';
import { fileURLToPath } from 'node:url';
import { CacheModule, Caches, makeTemplateFragmentKey, registerNunjucksCache } from '../../lib/index.js';

const views = fileURLToPath(new URL('./views', import.meta.url));

async function createCaches(
  extra: Record<string, object> = {},
): Promise<{ caches: Caches; close: () => Promise<void> }> {
  @Module({
    imports: [
      CacheModule.forRoot({ default: { backend: 'locmem', location: `fragments-${Math.random()}` }, ...extra }),
    ],
  })
  class FragmentsModule {}
  const moduleRef = await Test.createTestingModule({ imports: [FragmentsModule] }).compile();
  await moduleRef.init();
  return { caches: moduleRef.get(Caches), close: () => moduleRef.close() };
}

function renderString(environment: nunjucks.Environment, template: string, context: object): Promise<string> {
  return new Promise((resolve, reject) =>
    environment.renderString(template, context, (error, output) => (error ? reject(error) : resolve(output ?? ''))),
  );
}

describe('the {% cache %} tag in Nunjucks', () => {
  let caches: Caches;
  let close: () => Promise<void>;
  let environment: nunjucks.Environment;
  let renders: number;
  const count = () => ++renders;

  beforeAll(async () => {
    ({ caches, close } = await createCaches({
      other: { backend: 'locmem', location: `fragments-other-${Math.random()}` },
    }));
    environment = new nunjucks.Environment();
    registerNunjucksCache(environment, caches);
  });

  afterAll(() => close());

  beforeEach(async () => {
    renders = 0;
    await Promise.all(caches.all().map((cache) => cache.clear()));
  });

  it('renders the body once and then serves it, under Django’s key', async () => {
    const template = '{% cache 500, "sidebar", user.id %}[{{ count() }} {{ user.name }}]{% endcache %}';
    const first = await renderString(environment, template, { user: { id: 7, name: 'Ada' }, count });
    const second = await renderString(environment, template, { user: { id: 7, name: 'Changed' }, count });
    expect(first).toBe('[1 Ada]');
    expect(second).toBe('[1 Ada]');
    expect(renders).toBe(1);
    expect(await caches.default.get(makeTemplateFragmentKey('sidebar', [7]))).toBe('[1 Ada]');
  });

  it('outputs the fragment as markup, escaping the values inside it once, first render and hit alike', async () => {
    const template = '{% cache 500, "escaped" %}<b>{{ name }}</b>{% endcache %}';
    const expected = '<b>Tom &amp; Jerry</b>';
    expect(await renderString(environment, template, { name: 'Tom & Jerry' })).toBe(expected);
    expect(await renderString(environment, template, { name: 'Tom & Jerry' })).toBe(expected);
  });

  it('keeps one copy per vary-on value, of any type', async () => {
    const template = '{% cache 500, "box", a, b %}{{ count() }}{% endcache %}';
    const outputs = [];
    for (const [a, b] of [
      [1, 'x'],
      [2, 'x'],
      [1, 'x'],
      [null, true],
      [null, true],
    ]) {
      outputs.push(await renderString(environment, template, { a, b, count }));
    }
    expect(outputs).toEqual(['1', '2', '1', '3', '3']);
  });

  it('takes the timeout from a variable, and none as forever', async () => {
    await renderString(environment, '{% cache ttl, "v" %}x{% endcache %}', { ttl: 1 });
    expect(await caches.default.get(makeTemplateFragmentKey('v'))).toBe('x');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await caches.default.get(makeTemplateFragmentKey('v'))).toBeUndefined();
    await renderString(environment, '{% cache none, "forever" %}y{% endcache %}', {});
    expect(await caches.default.get(makeTemplateFragmentKey('forever'))).toBe('y');
  });

  it('uses the alias named by using=', async () => {
    await renderString(environment, '{% cache 60, "elsewhere", using="other" %}z{% endcache %}', {});
    expect(await caches.get('other').get(makeTemplateFragmentKey('elsewhere'))).toBe('z');
    expect(await caches.default.get(makeTemplateFragmentKey('elsewhere'))).toBeUndefined();
  });

  it.each([
    ['{% cache 500 %}x{% endcache %}', /\{% cache %\} takes a timeout and a fragment name/],
    [
      '{% cache "soon", "name" %}x{% endcache %}',
      /\{% cache %\} got a timeout that is not a whole number of seconds or none: "soon"/,
    ],
    ['{% cache 500, 42 %}x{% endcache %}', /\{% cache %\} needs a fragment name .* got 42/],
    ['{% cache %}x{% endcache %}', /\{% cache %\} takes a timeout and a fragment name/],
    ['{% cache missing, "n" %}x{% endcache %}', /\{% cache %\} got a timeout .*: undefined/],
    [
      '{% cache 500, "n", using="nope" %}x{% endcache %}',
      /\{% cache %\} using="nope": No cache alias 'nope'; configured: default, other/,
    ],
    ['{% cache 500, "n", using=3 %}x{% endcache %}', /using= takes the name of a cache alias; got 3/],
    ['{% cache 500, "n", timeout=3 %}x{% endcache %}', /has no argument 'timeout'/],
  ])('rejects %s with an error naming the tag and the argument', async (template, message) => {
    await expect(renderString(environment, template, {})).rejects.toThrow(message);
  });

  it.each([
    [
      '{% cache "soon", "name" %}x{% endcache %}',
      /CacheValueError: \{% cache %\} got a timeout .* Write \{% cache 500, "name" %\}/,
    ],
    [
      '{% cache 500, 42 %}x{% endcache %}',
      /CacheKeyError: \{% cache %\} needs a fragment name .* Write \{% cache 500, "sidebar" %\}/,
    ],
    ['{% cache 500, "n", timeout=3 %}x{% endcache %}', /CacheConfigError: \{% cache %\} has no argument 'timeout'/],
    ['{% cache 500, "n", using=3 %}x{% endcache %}', /CacheConfigError: .* Write using="default"/],
    ['{% cache 500, "n", using="nope" %}x{% endcache %}', /CacheConfigError: \{% cache %\} using="nope"/],
  ])('says which cache error %s is, and what to write', async (template, message) => {
    await expect(renderString(environment, template, {})).rejects.toThrow(message);
  });

  // Django's cache14 and cache15: a timeout variable holding a word or a list.
  it.each([['fail'], [[]], [true], [{}]])('rejects a timeout variable holding %j', async (ttl) => {
    await expect(renderString(environment, '{% cache ttl, "n" %}x{% endcache %}', { ttl })).rejects.toThrow(
      /\{% cache %\} got a timeout that is not a whole number of seconds or none/,
    );
  });

  it('truncates a fractional timeout to whole seconds, as Django’s int() does', async () => {
    await renderString(environment, '{% cache ttl, "fraction" %}f{% endcache %}', { ttl: 1.9 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await caches.default.get(makeTemplateFragmentKey('fraction'))).toBeUndefined();
  });

  it('names the tag and the value when a vary-on value cannot be a key', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(
      renderString(environment, '{% cache 60, "n", a, b %}x{% endcache %}', { a: 1, b: cyclic }),
    ).rejects.toThrow(/\{% cache %\}: Vary-on value #2 of a template fragment cannot be made into a key/);
    expect(renders).toBe(0);
  });

  it('keeps objects and arrays apart by their content, never by "[object Object]"', async () => {
    const template = '{% cache 500, "user-box", user %}{{ count() }}{% endcache %}';
    const render = (user: unknown) => renderString(environment, template, { user, count });
    expect(await render({ id: 1, name: 'Ada' })).toBe('1');
    expect(await render({ id: 2, name: 'Bob' })).toBe('2');
    expect(await render({ name: 'Ada', id: 1 })).toBe('1'); // same content, other key order
    expect(await render([1, [2, 3]])).toBe('3');
    expect(await render([[1, 2], 3])).toBe('4'); // String() would give "1,2,3" for both
    expect(await render(new Map([['id', 1]]))).toBe('5');
    expect(await render(new Map([['id', 2]]))).toBe('6');
  });

  // Django's cache16: a list among the vary-on values.
  it('varies on a list, as Django’s cache16', async () => {
    const template = '{% cache 60, "listed", foo, bar %}{{ count() }}{% endcache %}';
    expect(await renderString(environment, template, { foo: 1, bar: [], count })).toBe('1');
    expect(await renderString(environment, template, { foo: 1, bar: [], count })).toBe('1');
    expect(await renderString(environment, template, { foo: 1, bar: [1], count })).toBe('2');
  });

  // Django's cache04 and cache07: the key is the name and the values, not the template.
  it('serves a fragment cached by one template to another with the same name and values', async () => {
    await renderString(environment, '{% cache 60, "shared", 1 %}first{% endcache %}', {});
    expect(await renderString(environment, '<{% cache 60, "shared", 1 %}second{% endcache %}>', {})).toBe('<first>');
  });

  it('caches a fragment inside another, each under its own key', async () => {
    const template =
      '{% cache 60, "outer" %}[{{ count() }}{% cache 60, "inner", n %}({{ count() }}){% endcache %}]{% endcache %}';
    expect(await renderString(environment, template, { n: 1, count })).toBe('[1(2)]');
    expect(await renderString(environment, template, { n: 2, count })).toBe('[1(2)]'); // the outer hides it
    await caches.default.delete(makeTemplateFragmentKey('outer'));
    expect(await renderString(environment, template, { n: 1, count })).toBe('[3(2)]'); // the inner still cached
    expect(await caches.default.get(makeTemplateFragmentKey('inner', [1]))).toBe('(2)');
  });

  it('stores nothing when the body fails to render, and renders it again next time', async () => {
    const template = '{% cache 60, "broken" %}{{ explode() }}{% endcache %}';
    const explode = () => {
      throw new Error('no recipe');
    };
    await expect(renderString(environment, template, { explode })).rejects.toThrow(/no recipe/);
    expect(await caches.default.get(makeTemplateFragmentKey('broken'))).toBeUndefined();
    expect(await renderString(environment, template, { explode: () => 'fine' })).toBe('fine');
  });

  it('prefers a template_fragments alias, as Django does', async () => {
    const withFragments = await createCaches({
      template_fragments: { backend: 'locmem', location: `tf-${Math.random()}` },
    });
    try {
      const local = new nunjucks.Environment();
      registerNunjucksCache(local, withFragments.caches);
      await renderString(local, '{% cache 60, "pref" %}p{% endcache %}', {});
      expect(await withFragments.caches.get('template_fragments').get(makeTemplateFragmentKey('pref'))).toBe('p');
      expect(await withFragments.caches.default.get(makeTemplateFragmentKey('pref'))).toBeUndefined();
      await renderString(local, '{% cache 60, "chosen", using="default" %}d{% endcache %}', {});
      expect(await withFragments.caches.default.get(makeTemplateFragmentKey('chosen'))).toBe('d');
      expect(
        await withFragments.caches.get('template_fragments').get(makeTemplateFragmentKey('chosen')),
      ).toBeUndefined();
    } finally {
      await withFragments.close();
    }
  });
});

let mvcRenders = 0;

@Controller()
class RecipeViewController {
  @Get('recipe')
  @Render('recipe.njk')
  page() {
    return { title: 'Carbonara', user: { id: 1, name: 'Ada' }, renders: () => ++mvcRenders };
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: `fragments-mvc-${Math.random()}` } })],
  controllers: [RecipeViewController],
})
class MvcModule {}

describe('the {% cache %} tag in a Nest MVC app (Express + Nunjucks)', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [MvcModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    const environment = nunjucks.configure(views, { express: app.getHttpAdapter().getInstance() });
    registerNunjucksCache(environment, app.get(Caches));
    await app.init();
  });

  afterAll(() => app?.close());

  it('renders the fragment once across requests', async () => {
    const first = await request(app.getHttpServer()).get('/recipe').expect(200);
    const second = await request(app.getHttpServer()).get('/recipe').expect(200);
    expect(first.text).toContain('<h1>Carbonara</h1>');
    expect(first.text).toContain('<aside>sidebar for Ada #1</aside>');
    expect(second.text).toContain('<aside>sidebar for Ada #1</aside>');
    expect(mvcRenders).toBe(1);
  });
});

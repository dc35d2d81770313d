import type { ServerResponse } from 'node:http';
import { BadRequestException, Body, Controller, Get, Param, ParseIntPipe, Post, Render, Res } from '@nestjs/common';
import { CachePage, Caches, NeverCache, versionedKeyPart } from '../../lib/index.js';
import { Recipe } from './recipe.entity.js';
import { RecipesService } from './recipes.service.js';

/** What each page shows about itself, and the index lists. */
export const VARIANTS = {
  uncached: {
    path: '/pages/uncached',
    title: 'Uncached',
    summary: 'every request queries the database and renders the whole page.',
    how: 'The baseline: compare its footer with the others.',
  },
  perView: {
    path: '/pages/per-view',
    title: '@CachePage (per-view cache)',
    summary: "the whole response is kept 60 seconds (Django's cache_page); X-Cache says HIT or MISS.",
    how: '@CachePage(60, { dependsOn: [Recipe] }): any write to a recipe makes the next request a MISS.',
  },
  fragments: {
    path: '/pages/fragments',
    title: '{% cache %} fragment',
    summary: 'the page renders at every request, the recipe cards come from the fragment cache.',
    how: '{% cache 300, "recipe-cards", recipesVersion %}: the cards vary on the generation of Recipe, and load their rows only when they render.',
  },
  lowLevel: {
    path: '/pages/low-level',
    title: 'Low-level cache API',
    summary: 'the rows come from cache.getOrSet(); the page renders at every request.',
    how: 'getOrSet(`recipes:list~${generation}`, () => query, 60): the key holds the generation of Recipe.',
  },
  detail: {
    path: '/pages/recipes/1',
    title: 'One recipe (per-view cache, per row)',
    summary: 'cached 60 seconds; depends on its own row only, so editing another recipe leaves it cached.',
    how: '@CachePage(60, { dependsOn: [[Recipe, (request) => request.params.id]] })',
  },
};

/** The showcase: HTML pages over the same recipes, one per way of caching them. */
@Controller()
export class RecipePagesController {
  constructor(
    private readonly recipesService: RecipesService,
    private readonly caches: Caches,
  ) {}

  @Get()
  @Render('index.njk')
  async index() {
    return {
      title: 'Showcase',
      variants: Object.values(VARIANTS),
      defaultCache: describeCacheUrl(process.env.CACHE_URL),
      siteCache: process.env.SITE_CACHE === '1',
      recipes: await this.recipesService.listFromDatabase(),
    };
  }

  @Get('pages/uncached')
  @Render('list.njk')
  async uncached() {
    return { title: 'Uncached', variant: VARIANTS.uncached, recipes: await this.recipesService.listFromDatabase() };
  }

  @Get('pages/per-view')
  @CachePage(60, { dependsOn: [Recipe] })
  @Render('list.njk')
  async perView() {
    return { title: '@CachePage', variant: VARIANTS.perView, recipes: await this.recipesService.listFromDatabase() };
  }

  /** No query here: the cards ask for their rows when they render, which a cached fragment does not. */
  @Get('pages/fragments')
  @Render('fragments.njk')
  async fragments() {
    return {
      title: 'Fragment',
      variant: VARIANTS.fragments,
      recipesVersion: await versionedKeyPart(this.caches.default, [Recipe], [], 300),
      loadRecipes: () => this.recipesService.listFromDatabase(),
    };
  }

  @Get('pages/low-level')
  @Render('list.njk')
  async lowLevel(@Res({ passthrough: true }) response: ServerResponse) {
    const { recipes, cacheHit } = await this.recipesService.listWithGetOrSet();
    response.setHeader('X-Low-Level-Cache', cacheHit ? 'HIT' : 'MISS');
    return { title: 'Low-level', variant: VARIANTS.lowLevel, recipes, lowLevel: cacheHit ? 'HIT' : 'MISS' };
  }

  // The id comes from the request: pipes run after the page cache.
  @Get('pages/recipes/:id')
  @CachePage(60, { dependsOn: [[Recipe, (request: { params: { id: string } }) => request.params.id]] })
  @Render('recipe.njk')
  async recipe(@Param('id', ParseIntPipe) id: number) {
    const recipe = await this.recipesService.findOneFromDatabase(id);
    return { title: recipe.name, variant: VARIANTS.detail, recipe };
  }

  @Get('pages/recipes/:id/edit')
  @NeverCache()
  @Render('edit.njk')
  async editForm(@Param('id', ParseIntPipe) id: number) {
    const recipe = await this.recipesService.findOneFromDatabase(id);
    return { title: `Edit ${recipe.name}`, recipe };
  }

  /**
   * A form post (urlencoded): saved through TypeORM, then 303 to the recipe's page, fresh already.
   * A refused value shows the form again (400) with the message and what was typed.
   */
  @Post('pages/recipes/:id/edit')
  async edit(
    @Param('id', ParseIntPipe) id: number,
    @Body() body: { name?: unknown; description?: unknown },
    @Res() response: FormResponse,
  ): Promise<void> {
    const fields = { name: body?.name, description: body?.description } as Partial<Recipe>;
    try {
      await this.recipesService.update(id, fields);
    } catch (error) {
      if (!(error instanceof BadRequestException)) throw error;
      const recipe = { ...(await this.recipesService.findOneFromDatabase(id)), ...fields };
      response.status(400).render('edit.njk', { title: `Edit ${recipe.name}`, recipe, error: error.message });
      return;
    }
    response.redirect(303, `/pages/recipes/${id}`);
  }
}

/** The part of Express's response the edit form uses. */
interface FormResponse {
  status(code: number): { render(view: string, locals: object): void };
  redirect(status: number, url: string): void;
}

/** The cache URL without its password, or the local default. */
function describeCacheUrl(url: string | undefined): string {
  if (url === undefined || url === '') return 'locmem (this process)';
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return url;
  }
}

import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { Args, Field, GraphQLModule, ID, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { Cache, Cacheable, CacheEvict, CacheModule, CachePage } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';

@ObjectType()
class Recipe {
  @Field(() => ID)
  id!: string;

  @Field(() => Int)
  runs!: number;
}

@Injectable()
class RecipesService {
  runs = 0;

  @Cacheable({ key: 'recipe:{0}', timeout: 60 })
  async findOne(id: string): Promise<Recipe> {
    return { id, runs: ++this.runs };
  }

  @CacheEvict('recipe:{0}')
  async rename(id: string): Promise<boolean> {
    return id !== '';
  }
}

@Resolver(() => Recipe)
class RecipesResolver {
  featuredRuns = 0;
  pagedRuns = 0;

  constructor(private readonly recipes: RecipesService) {}

  @Query(() => Recipe)
  recipe(@Args('id', { type: () => ID }) id: string) {
    return this.recipes.findOne(id);
  }

  @Mutation(() => Boolean)
  renameRecipe(@Args('id', { type: () => ID }) id: string) {
    return this.recipes.rename(id);
  }

  // On the resolver itself, above and below the GraphQL decorator: both orders must keep the field.
  @Query(() => Recipe)
  @Cacheable('featured')
  featured(): Recipe {
    return { id: 'featured', runs: ++this.featuredRuns };
  }

  @CacheEvict('featured')
  @Mutation(() => Boolean)
  refreshFeatured(): boolean {
    return true;
  }

  // HTTP only: a GraphQL field is not a page, even when the operation came over HTTP.
  @Query(() => Int)
  @CachePage(60)
  paged(): number {
    return ++this.pagedRuns;
  }
}

/**
 * Apollo on Nest's own HTTP server (ApolloDriver mounts @as-integrations/express5 or /fastify on
 * the adapter), driven by a real HTTP client.
 */
@Module({
  imports: [
    CacheModule.forRoot({ default: { backend: 'locmem', location: 'graphql-e2e' } }),
    GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
  ],
  providers: [RecipesResolver, RecipesService],
})
class GraphqlAppModule {}

describe.each(ADAPTERS)('method caching in a GraphQL app over HTTP on %s (Apollo, code-first)', (adapter) => {
  let app: INestApplication;
  let url: string;

  const post = async (query: string) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data?: Record<string, unknown>; errors?: Array<{ message: string }> };
    if (body.errors) throw new Error(body.errors.map((error) => error.message).join('; '));
    expect(response.status).toBe(200);
    return body.data!;
  };

  beforeAll(async () => {
    ({ app, url } = await startApp(adapter, GraphqlAppModule));
  });

  afterAll(async () => {
    await app?.close();
  });

  it("caches a resolver's service method under its key until a mutation evicts it", async () => {
    const first = await post('{ recipe(id: "7") { id runs } }');
    expect(first).toEqual({ recipe: { id: '7', runs: 1 } });
    expect(await post('{ recipe(id: "7") { id runs } }')).toEqual(first);
    expect(await app.get(Cache).get('recipe:7')).toEqual({ id: '7', runs: 1 });
    expect(await post('mutation { renameRecipe(id: "7") }')).toEqual({ renameRecipe: true });
    expect(await app.get(Cache).get('recipe:7')).toBeUndefined();
    expect(await post('{ recipe(id: "7") { runs } }')).toEqual({ recipe: { runs: 2 } });
  });

  it('caches a query resolver method itself, and evicts from a mutation resolver', async () => {
    expect(await post('{ featured { runs } }')).toEqual({ featured: { runs: 1 } });
    expect(await post('{ featured { runs } }')).toEqual({ featured: { runs: 1 } });
    expect(await post('mutation { refreshFeatured }')).toEqual({ refreshFeatured: true });
    expect(await post('{ featured { runs } }')).toEqual({ featured: { runs: 2 } });
  });

  it('lets @CachePage pass every GraphQL call through, over HTTP too: page caching is for routes', async () => {
    expect(await post('{ paged }')).toEqual({ paged: 1 });
    expect(await post('{ paged }')).toEqual({ paged: 2 });
    // A GET operation, which Apollo answers too (with a preflight header against CSRF).
    const response = await fetch(`${url}/graphql?query=${encodeURIComponent('{ paged }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(await response.json()).toEqual({ data: { paged: 3 } });
    const again = await fetch(`${url}/graphql?query=${encodeURIComponent('{ paged }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(await again.json()).toEqual({ data: { paged: 4 } });
  });
});

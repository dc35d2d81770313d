import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloServer } from '@apollo/server';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Args, Field, GraphQLModule, ID, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { Test } from '@nestjs/testing';
import { Cache, Cacheable, CacheEvict, CacheModule, CachePage } from '../../lib/index.js';

/**
 * Apollo as Nest's ApolloDriver starts it, minus the HTTP integration (@as-integrations/express5
 * or /fastify, not installed): the schema, resolvers, guards and interceptors are Nest's own, and
 * operations run through Apollo's `executeOperation`.
 */
class ApolloWithoutHttpDriver extends ApolloDriver {
  override async registerServer(options: ApolloDriverConfig): Promise<void> {
    const server = new ApolloServer(options as ConstructorParameters<typeof ApolloServer>[0]);
    await server.start();
    (this as unknown as { apolloServer: ApolloServer }).apolloServer = server;
  }
}

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

  // HTTP only: in a GraphQL operation there is no response to store, so it lets every call through.
  @Query(() => Int)
  @CachePage(60)
  paged(): number {
    return ++this.pagedRuns;
  }
}

describe('method caching in a GraphQL app (@nestjs/graphql, Apollo, code-first)', () => {
  let app: INestApplication;
  let server: ApolloServer;

  const run = async (query: string) => {
    const response = await server.executeOperation({ query });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    const { data, errors } = response.body.singleResult;
    if (errors) throw new Error(errors.map((error) => error.message).join('; '));
    return data as Record<string, unknown>;
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        CacheModule.forRoot({ default: { backend: 'locmem', location: 'graphql-e2e' } }),
        GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloWithoutHttpDriver, autoSchemaFile: true }),
      ],
      providers: [RecipesResolver, RecipesService],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    server = (app.get(GraphQLModule).graphQlAdapter as unknown as ApolloWithoutHttpDriver).instance;
  });

  afterAll(async () => {
    await app?.close();
  });

  it("caches a resolver's service method under its key until a mutation evicts it", async () => {
    const first = await run('{ recipe(id: "7") { id runs } }');
    expect(await run('{ recipe(id: "7") { id runs } }')).toEqual(first);
    expect(await app.get(Cache).get('recipe:7')).toEqual({ id: '7', runs: 1 });
    await run('mutation { renameRecipe(id: "7") }');
    expect(await run('{ recipe(id: "7") { runs } }')).toEqual({ recipe: { runs: 2 } });
  });

  it('caches a query resolver method itself, and evicts from a mutation resolver', async () => {
    expect(await run('{ featured { runs } }')).toEqual({ featured: { runs: 1 } });
    expect(await run('{ featured { runs } }')).toEqual({ featured: { runs: 1 } });
    expect(await run('mutation { refreshFeatured }')).toEqual({ refreshFeatured: true });
    expect(await run('{ featured { runs } }')).toEqual({ featured: { runs: 2 } });
  });

  it('lets @CachePage pass every GraphQL call through: page caching is HTTP only', async () => {
    expect(await run('{ paged }')).toEqual({ paged: 1 });
    expect(await run('{ paged }')).toEqual({ paged: 2 });
  });
});

import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import { Cacheable, CacheEvict, CacheModule, CachePage } from '../../lib/index.js';

@ApiTags('recipes')
@Controller('recipes')
class DocumentedController {
  // Swagger decorators on both sides of the cache decorators: both orders must keep them.
  @Get(':id')
  @ApiOperation({ summary: 'One recipe' })
  @Cacheable('recipe:{0}')
  @ApiOkResponse({ description: 'The recipe' })
  findOne(@Param('id') id: string) {
    return { id };
  }

  @Get()
  @CachePage(60)
  @ApiOperation({ summary: 'Every recipe' })
  @CacheEvict({ allEntries: true })
  findAll() {
    return [];
  }
}

@Module({
  imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'swagger-spec' } })],
  controllers: [DocumentedController],
})
class DocumentedModule {}

describe('Swagger metadata on cached routes', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [DocumentedModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(() => app?.close());

  it('survives the method cache wrap, in the generated OpenAPI document', () => {
    const document = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('recipes').build());
    const one = document.paths['/recipes/{id}']?.get;
    expect(one?.summary).toBe('One recipe');
    expect(one?.tags).toEqual(['recipes']);
    expect(one?.responses['200']).toEqual(expect.objectContaining({ description: 'The recipe' }));
    expect(one?.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path' })]);
    expect(document.paths['/recipes']?.get?.summary).toBe('Every recipe');
  });
});

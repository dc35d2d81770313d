import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  Controller,
  Get,
  Header,
  HttpCode,
  Injectable,
  Param,
  Post,
  SetMetadata,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { Cache, Cacheable, CacheEvict, CacheModule } from '../../lib/index.js';

@Injectable()
class ApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-api-key'] === 'secret';
  }
}

/** Reads method metadata through the handler Nest hands it: the trampoline must carry it. */
@Injectable()
class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.get<string[] | undefined>('roles', context.getHandler()) ?? [];
    const role = context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-role'];
    return roles.length === 0 || roles.includes(role ?? '');
  }
}

@Controller('recipes')
@UseGuards(ApiKeyGuard)
class RecipesController {
  runs = 0;

  // Route decorators above and below @Cacheable: both orders must keep the route's metadata.
  @Get(':id')
  @HttpCode(203)
  @Cacheable('recipe:{0}')
  @Header('X-Recipe', 'yes')
  @SetMetadata('roles', ['chef'])
  @UseGuards(RolesGuard)
  async findOne(@Param('id') id: string) {
    this.runs++;
    return { id, runs: this.runs };
  }

  @Post(':id')
  @CacheEvict('recipe:{0}')
  update(@Param('id') id: string) {
    return { updated: id };
  }
}

describe('@Cacheable on a controller route (express)', () => {
  let app: INestApplication;
  let controller: RecipesController;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'controller-spec' } })],
      controllers: [RecipesController],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    controller = app.get(RecipesController);
  });
  afterAll(() => app.close());

  const get = (path: string, role = 'chef') =>
    request(app.getHttpServer()).get(path).set('x-api-key', 'secret').set('x-role', role);

  it('serves the cached result over HTTP (routes were bound before the explorer ran: the trampoline)', async () => {
    const first = await get('/recipes/7');
    expect(first.status).toBe(203);
    expect(first.body).toEqual({ id: '7', runs: 1 });
    const second = await get('/recipes/7');
    expect(second.body).toEqual({ id: '7', runs: 1 });
    expect(controller.runs).toBe(1);
    expect(await app.get(Cache).get('recipe:7')).toEqual({ id: '7', runs: 1 });
  });

  it('keeps the route metadata: path, status code, headers', async () => {
    const response = await get('/recipes/8');
    expect(response.status).toBe(203);
    expect(response.headers['x-recipe']).toBe('yes');
  });

  it('keeps the guards: a hit never bypasses authorization', async () => {
    await get('/recipes/9');
    expect((await request(app.getHttpServer()).get('/recipes/9').set('x-role', 'chef')).status).toBe(403);
    expect((await get('/recipes/9', 'guest')).status).toBe(403); // method guard, reading method metadata
    expect((await get('/recipes/9')).status).toBe(203);
  });

  it('evicts through a decorated POST route', async () => {
    await get('/recipes/10');
    await request(app.getHttpServer()).post('/recipes/10').set('x-api-key', 'secret').expect(201);
    const runs = controller.runs;
    expect((await get('/recipes/10')).body).toEqual({ id: '10', runs: runs + 1 });
  });
});

import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';

/** Every HTTP test runs on both platforms Nest ships. */
export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/**
 * Boots a module on a real port of the given platform. It listens once (`listen(0)`), so the
 * `Host` of every request, part of each page key, stays the same.
 */
export async function startApp(
  adapter: AdapterName,
  module: Type<unknown> | DynamicModule,
  configure: (app: INestApplication) => void = () => {},
  fastifyOptions?: ConstructorParameters<typeof FastifyAdapter>[0],
): Promise<{ app: INestApplication; url: string }> {
  const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(fastifyOptions), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  configure(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl() };
}

// The NestJS 11 line the suite also runs on (use-nest11.mjs) and the tarball test installs.
/** The NestJS 11 counterpart of every devDependency that pins NestJS 12 or TypeORM 1. */
export const NEST_11_PACKAGES = {
  '@nestjs/common': '11.2.10',
  '@nestjs/core': '11.2.10',
  '@nestjs/testing': '11.2.6',
  '@nestjs/platform-express': '11.2.10',
  '@nestjs/platform-fastify': '11.2.8',
  '@nestjs/typeorm': '11.0.3',
  '@nestjs/terminus': '11.1.1',
  '@nestjs/config': '4.0.4',
  '@nestjs/swagger': '11.4.7',
  '@nestjs/graphql': '13.4.4',
  '@nestjs/apollo': '13.4.5',
  '@nestjs/microservices': '11.2.6',
  typeorm: '0.3.31',
};

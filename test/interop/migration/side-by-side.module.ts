import { CacheModule as CacheManagerModule } from '@nestjs/cache-manager';
import { Module } from '@nestjs/common';
import { Keyv } from 'keyv';
import { CacheModule, Caches, toKeyvStore } from '../../../lib/index.js';
import { RecipesController, RecipesService } from './before.module.js';

@Module({
  imports: [
    CacheModule.forRoot({ default: process.env.CACHE_URL ?? 'redis://127.0.0.1:6379/0' }),
    // The old CACHE_MANAGER, now over the same redis connection, in Keyv's 'keyv' namespace.
    CacheManagerModule.registerAsync({
      inject: [Caches],
      useFactory: (caches: Caches) => ({ stores: [new Keyv({ store: toKeyvStore(caches.default) })], ttl: 5_000 }),
    }),
  ],
  controllers: [RecipesController],
  providers: [RecipesService],
})
export class AppModule {}

import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Injectable, type INestMicroservice } from '@nestjs/common';
import {
  ClientProxyFactory,
  MessagePattern,
  Payload,
  Transport,
  type ClientProxy,
  type MicroserviceOptions,
} from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import { Cache, Cacheable, CacheEvict, CacheModule, CachePage } from '../../lib/index.js';
import { freePort } from '../support/addresses.js';

@Injectable()
class PricesService {
  runs = 0;

  @Cacheable({ key: 'price:{0}', timeout: 60 })
  async price(sku: string): Promise<{ sku: string; runs: number }> {
    return { sku, runs: ++this.runs };
  }

  @CacheEvict('price:{0}')
  async reprice(sku: string): Promise<boolean> {
    return sku !== '';
  }
}

@Controller()
class PricesController {
  pagedRuns = 0;

  constructor(private readonly prices: PricesService) {}

  @MessagePattern('price')
  price(@Payload() sku: string) {
    return this.prices.price(sku);
  }

  @MessagePattern('reprice')
  reprice(@Payload() sku: string) {
    return this.prices.reprice(sku);
  }

  // HTTP only: a message has no response to store, so every message reaches the handler.
  @MessagePattern('paged')
  @CachePage(60)
  paged() {
    return ++this.pagedRuns;
  }
}

describe('method caching in a microservice (@nestjs/microservices, TCP, a real client)', () => {
  let service: INestMicroservice;
  let client: ClientProxy;
  const send = <T>(pattern: string, data: unknown) => firstValueFrom(client.send<T>(pattern, data));

  beforeAll(async () => {
    const port = await freePort();
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.forRoot({ default: { backend: 'locmem', location: 'microservice-e2e' } })],
      controllers: [PricesController],
      providers: [PricesService],
    }).compile();
    service = moduleRef.createNestMicroservice<MicroserviceOptions>({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
      logger: false,
    });
    await service.listen();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await service?.close();
  });

  it("caches a handler's provider method until another message evicts it", async () => {
    const first = await send<{ runs: number }>('price', 'sku-1');
    expect(await send('price', 'sku-1')).toEqual(first);
    expect(await service.get(Cache).get('price:sku-1')).toEqual({ sku: 'sku-1', runs: 1 });
    expect(await send('reprice', 'sku-1')).toBe(true);
    expect(await send('price', 'sku-1')).toEqual({ sku: 'sku-1', runs: 2 });
  });

  it('lets @CachePage pass every message through: page caching is HTTP only', async () => {
    expect(await send('paged', {})).toBe(1);
    expect(await send('paged', {})).toBe(2);
  });
});

import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { getRepositoryToken, InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import type { Repository } from 'typeorm';
import { CacheModule, CachePage, FragmentCache } from '../../lib/index.js';
import { ADAPTERS, startApp } from '../http/app/http-app.js';
import { Book, ENTITIES, Note } from './library.fixture.js';

let generated = 0;

@Controller('books')
class BooksController {
  constructor(
    @InjectRepository(Book) private readonly books: Repository<Book>,
    private readonly fragments: FragmentCache,
  ) {}

  @Get()
  @CachePage(60, { dependsOn: [Book] })
  async list() {
    return { generated: ++generated, titles: (await this.books.find({ order: { id: 'ASC' } })).map((b) => b.title) };
  }

  // Pipes run after interceptors: the id comes from the request, as a string.
  @Get(':id')
  @CachePage(60, { dependsOn: [[Book, (req: { params: { id: string } }) => req.params.id]] })
  async one(@Param('id') id: string) {
    return { generated: ++generated, title: (await this.books.findOneBy({ id: Number(id) }))?.title };
  }

  @Get(':id/fragment')
  fragment(@Param('id') id: string) {
    return this.fragments.render(
      'book',
      [Number(id)],
      60,
      async () => `${++generated}:${(await this.books.findOneBy({ id: Number(id) }))?.title}`,
      {
        dependsOn: [[Book, (varyOn) => varyOn[0]]],
      },
    );
  }
}

describe.each(ADAPTERS)('dependsOn on pages and fragments (%s)', (adapter) => {
  const root = mkdtempSync(join(tmpdir(), `nestjs-caches-page-deps-${adapter}-`));
  let app: INestApplication;
  let url: string;
  let books: Repository<Book>;

  beforeAll(async () => {
    @Module({
      imports: [
        TypeOrmModule.forRoot({
          type: 'better-sqlite3',
          database: join(root, 'pages.sqlite'),
          entities: ENTITIES,
          synchronize: true,
        }),
        TypeOrmModule.forFeature(ENTITIES),
        CacheModule.forRoot({ default: { backend: 'locmem', location: `page-deps-${adapter}` } }),
      ],
      controllers: [BooksController],
    })
    class PagesModule {}
    ({ app, url } = await startApp(adapter, PagesModule));
    books = app.get<Repository<Book>>(getRepositoryToken(Book) as string);
  });

  afterAll(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a list page is fresh right after a save, and a hit until then', async () => {
    await books.save([
      { title: 'Dune', shelfId: 1 },
      { title: 'Emma', shelfId: 1 },
    ]);
    const miss = await request(url).get('/books').expect(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    const hit = await request(url).get('/books').expect(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    await books.save({ id: 1, title: 'Dune Messiah' });
    const fresh = await request(url).get('/books').expect(200);
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.body.titles).toEqual(['Dune Messiah', 'Emma']);
  });

  it('a detail page depends on its row only', async () => {
    const one = await request(url).get('/books/1').expect(200);
    const two = await request(url).get('/books/2').expect(200);
    expect((await request(url).get('/books/1')).headers['x-cache']).toBe('HIT');
    await books.save({ id: 2, title: 'Persuasion' });
    const oneAgain = await request(url).get('/books/1').expect(200);
    expect(oneAgain.headers['x-cache']).toBe('HIT');
    expect(oneAgain.body).toEqual(one.body);
    const twoAgain = await request(url).get('/books/2').expect(200);
    expect(twoAgain.headers['x-cache']).toBe('MISS');
    expect(twoAgain.body.title).toBe('Persuasion');
    expect(twoAgain.body.generated).not.toBe(two.body.generated);
    // A change to another entity leaves the pages alone.
    await app.get<Repository<Note>>(getRepositoryToken(Note) as string).save({ text: 'unrelated' });
    expect((await request(url).get('/books/2')).headers['x-cache']).toBe('HIT');
  });

  it("a fragment with dependsOn is rendered again after its row changes, and another row's fragment stays cached", async () => {
    const first = (await request(url).get('/books/1/fragment').expect(200)).text;
    const other = (await request(url).get('/books/2/fragment').expect(200)).text;
    expect((await request(url).get('/books/1/fragment').expect(200)).text).toBe(first);
    expect((await request(url).get('/books/2/fragment').expect(200)).text).toBe(other);
    await books.save({ id: 1, title: 'Children of Dune' });
    const second = (await request(url).get('/books/1/fragment').expect(200)).text;
    expect(second).not.toBe(first);
    expect(second).toMatch(/:Children of Dune$/);
    // The render counter moved on above: the same text means book 2's fragment was not rendered again.
    expect((await request(url).get('/books/2/fragment').expect(200)).text).toBe(other);
  });
});

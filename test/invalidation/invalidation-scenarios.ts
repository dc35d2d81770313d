import 'reflect-metadata';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { getDataSourceToken, TypeOrmModule, type TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CacheInvalidator, CacheModule, Caches, type CacheEntryOptions } from '../../lib/index.js';
import { Book, ENTITIES, Library, LOAN_RELATIONS, Loan, Note, Shelf, type Gate } from './library.fixture.js';

export interface InvalidationTarget {
  /** The TypeORM connection (a fresh schema each boot: `dropSchema` and `synchronize` are added). */
  dataSource: () => TypeOrmModuleOptions;
  /** The alias the entries and their generations live in. */
  cache: () => CacheEntryOptions;
}

// What each write must invalidate, by the reads of Library.probe(): a row change takes its row,
// its entity, and (for books) the shelf it sits on; a change whose rows are unknown takes every
// row-level entry of the entity, and of the entity it invalidates also.
const BOOK_1 = ['book1', 'books', 'shelf1', 'shelves'];
const BOOK_2 = ['book2', 'books', 'shelf2', 'shelves'];
const ALL_BOOKS = ['book1', 'book2', 'books', 'shelf1', 'shelf2', 'shelves'];

/** The invalidation scenarios of the "Done when" list, on one database and one store. */
export function describeInvalidation(label: string, target: InvalidationTarget): void {
  describe(`invalidation when rows change: ${label}`, () => {
    let moduleRef: TestingModule;
    let library: Library;
    let dataSource: DataSource;

    beforeEach(async () => {
      moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({ ...target.dataSource(), entities: ENTITIES, synchronize: true, dropSchema: true }),
          TypeOrmModule.forFeature(ENTITIES),
          CacheModule.forRoot({ default: target.cache() }, { invalidation: { relations: LOAN_RELATIONS } }),
        ],
        providers: [Library],
      }).compile();
      await moduleRef.init();
      await moduleRef.get(Caches).default.clear();
      library = moduleRef.get(Library);
      dataSource = moduleRef.get<DataSource>(getDataSourceToken());
      await library.shelves.save([{ name: 'fiction' }, { name: 'cooking' }]);
      await library.books.save([
        { title: 'Dune', shelfId: 1 },
        { title: 'The Silver Spoon', shelfId: 2 },
      ]);
      await library.notes.save({ text: 'return by Friday' });
      await library.probe(); // warms every entry
      expect(await library.probe()).toEqual([]);
    });

    afterEach(async () => {
      jest.restoreAllMocks();
      await moduleRef?.close();
    });

    describe('through the repository', () => {
      it('save() of a changed row: that row, its entity, and its shelf', async () => {
        const dune = (await library.books.findOneBy({ id: 1 }))!;
        dune.title = 'Dune Messiah';
        await library.books.save(dune);
        expect(await library.probe()).toEqual(BOOK_1);
        expect((await library.book(1))!.title).toBe('Dune Messiah');
      });

      it('save() of a partial row (the id and one column) still finds the shelf through the loaded row', async () => {
        await library.books.save({ id: 2, title: 'Il cucchiaio d’argento' });
        expect(await library.probe()).toEqual(BOOK_2);
      });

      it('save() of a new row: the entity and its shelf, no other row', async () => {
        await library.books.save({ title: 'Salt Fat Acid Heat', shelfId: 2 });
        expect(await library.probe()).toEqual(['books', 'shelf2', 'shelves']);
      });

      it('moving a row to another shelf invalidates both shelves', async () => {
        await library.books.save({ id: 1, shelfId: 2 });
        expect(await library.probe()).toEqual(['book1', 'books', 'shelf1', 'shelf2', 'shelves']);
      });

      it('remove(), softRemove() and recover()', async () => {
        const book = (await library.books.findOneBy({ id: 2 }))!;
        await library.books.softRemove(book);
        expect(await library.probe()).toEqual(BOOK_2);
        expect((await library.listBooks()).map((b) => b.id)).toEqual([1]);
        await library.books.recover(book);
        expect(await library.probe()).toEqual(BOOK_2);
        expect((await library.listBooks()).map((b) => b.id)).toEqual([1, 2]);
        await library.books.remove((await library.books.findOneBy({ id: 2 }))!);
        expect(await library.probe()).toEqual(BOOK_2);
        expect(await library.book(2)).toBeNull();
      });

      it('update(), delete(), insert(), softDelete() and restore() carry no rows: every row-level entry goes', async () => {
        await library.books.update({ id: 1 }, { title: 'Children of Dune' });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await library.books.insert({ title: 'Ratio', shelfId: 2 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await library.books.softDelete({ id: 3 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await library.books.restore({ id: 3 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await library.books.delete({ id: 3 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
      });

      it('a change to an entity nothing depends on through a relation touches only its own entries', async () => {
        await library.notes.save({ id: 1, text: 'return by Monday' });
        expect(await library.probe()).toEqual(['notes']);
        await library.shelves.save({ id: 1, name: 'science fiction' });
        expect(await library.probe()).toEqual(['shelf1', 'shelves']);
      });
    });

    describe('relations declared in the module options (invalidation.relations)', () => {
      it('a new row invalidates the row it belongs to and that entity, nothing else', async () => {
        await library.loans.save({ bookId: 2, borrower: 'Ada' });
        expect(await library.probe()).toEqual(['book2', 'books', 'loans']);
      });

      it('moving a row invalidates the row it left and the row it joined; removing it, the row it left', async () => {
        const loan = await library.loans.save({ bookId: 2, borrower: 'Ada' });
        await library.probe();
        await library.loans.save({ id: loan.id, bookId: 1 });
        expect(await library.probe()).toEqual(['book1', 'book2', 'books', 'loans']);
        await library.loans.remove((await library.loans.findOneBy({ id: loan.id }))!);
        expect(await library.probe()).toEqual(['book1', 'books', 'loans']);
      });

      it('a change whose rows are unknown invalidates every row of the related entity', async () => {
        await dataSource.createQueryBuilder().insert().into(Loan).values({ bookId: 1, borrower: 'Grace' }).execute();
        expect(await library.probe()).toEqual(['book1', 'book2', 'books', 'loans']);
        await library.notes.save({ id: 1, text: 'unrelated' });
        expect(await library.probe()).toEqual(['notes']);
      });
    });

    describe('through the entity manager', () => {
      it('save(), softRemove(), recover() and remove() by entity class', async () => {
        await dataSource.manager.save(Book, { id: 1, title: 'Dune (1965)' });
        expect(await library.probe()).toEqual(BOOK_1);
        const book = (await dataSource.manager.findOneBy(Book, { id: 1 }))!;
        await dataSource.manager.softRemove(book);
        expect(await library.probe()).toEqual(BOOK_1);
        await dataSource.manager.recover(book);
        expect(await library.probe()).toEqual(BOOK_1);
        await dataSource.manager.remove(book);
        expect(await library.probe()).toEqual(BOOK_1);
      });

      it('save() of a new row by entity class: the entity and its shelf, no other row', async () => {
        await dataSource.manager.save(Book, { title: 'Salt Fat Acid Heat', shelfId: 1 });
        expect(await library.probe()).toEqual(['books', 'shelf1', 'shelves']);
        expect((await library.listBooks()).map((b) => b.id)).toEqual([1, 2, 3]);
      });

      it('update() and delete() by criteria: every row-level entry of the entity', async () => {
        await dataSource.manager.update(Book, { id: 2 }, { title: 'x' });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await dataSource.manager.delete(Book, { id: 2 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        expect(await library.book(2)).toBeNull();
        await dataSource.manager.delete(Note, { id: 1 });
        expect(await library.probe()).toEqual(['notes']);
      });

      it('insert(), softDelete() and restore() carry no rows: every row-level entry of the entity', async () => {
        await dataSource.manager.insert(Book, { title: 'Ratio', shelfId: 1 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        expect((await library.listBooks()).map((b) => b.id)).toEqual([1, 2, 3]);
        await dataSource.manager.softDelete(Book, { id: 1 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        expect((await library.listBooks()).map((b) => b.id)).toEqual([2, 3]);
        await dataSource.manager.restore(Book, { id: 1 });
        expect(await library.probe()).toEqual(ALL_BOOKS);
        expect((await library.listBooks()).map((b) => b.id)).toEqual([1, 2, 3]);
        await dataSource.manager.insert(Note, { text: 'new' });
        expect(await library.probe()).toEqual(['notes']);
      });
    });

    describe('through the QueryBuilder', () => {
      it('insert(), update(), delete(), softDelete() and restore()', async () => {
        const qb = () => dataSource.createQueryBuilder();
        await qb().insert().into(Book).values({ title: 'Kitchen Confidential', shelfId: 2 }).execute();
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await qb().update(Book).set({ title: 'Dune!' }).where('id = :id', { id: 1 }).execute();
        expect(await library.probe()).toEqual(ALL_BOOKS);
        expect((await library.book(1))!.title).toBe('Dune!');
        await qb().softDelete().from(Book).where('id = :id', { id: 3 }).execute();
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await qb().restore().from(Book).where('id = :id', { id: 3 }).execute();
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await qb().delete().from(Book).where('id = :id', { id: 3 }).execute();
        expect(await library.probe()).toEqual(ALL_BOOKS);
        await qb().update(Note).set({ text: 'overdue' }).execute();
        expect(await library.probe()).toEqual(['notes']);
      });

      it('callListeners(false) is not seen: CacheInvalidator does it by hand', async () => {
        await dataSource.createQueryBuilder().update(Note).set({ text: 'quiet' }).callListeners(false).execute();
        expect(await library.probe()).toEqual([]);
        await moduleRef.get(CacheInvalidator).invalidate(Note);
        expect(await library.probe()).toEqual(['notes']);
      });
    });

    describe('transactions', () => {
      it('a rollback invalidates nothing', async () => {
        await expect(
          dataSource.transaction(async (manager) => {
            await manager.save(Book, { id: 1, title: 'never' });
            await manager.update(Note, { id: 1 }, { text: 'never' });
            throw new Error('changed my mind');
          }),
        ).rejects.toThrow('changed my mind');
        expect(await library.probe()).toEqual([]);
        expect((await library.book(1))!.title).toBe('Dune');
      });

      it('readers keep the old value while the transaction is open, and see the new one once it commits', async () => {
        const runner = dataSource.createQueryRunner();
        try {
          await runner.startTransaction();
          await runner.manager.save(Book, { id: 1, title: 'God Emperor of Dune' });
          await runner.manager.createQueryBuilder().update(Note).set({ text: 'in flight' }).execute();
          expect(await library.probe()).toEqual([]);
          expect((await library.book(1))!.title).toBe('Dune');
          await runner.commitTransaction();
        } finally {
          await runner.release();
        }
        // The commit resolved after the bump: the very next read is fresh.
        expect((await library.book(1))!.title).toBe('God Emperor of Dune');
        expect((await library.listNotes())[0]!.text).toBe('in flight');
        expect(await library.probe()).toEqual(['books', 'shelf1', 'shelves']);
      });

      it('nested transactions bump once, at the outermost commit; a rolled back savepoint drops its changes', async () => {
        const bump = jest.spyOn(moduleRef.get(CacheInvalidator), 'bump');
        const runner = dataSource.createQueryRunner();
        try {
          await runner.startTransaction();
          await runner.manager.save(Book, { id: 1, title: 'Heretics of Dune' });
          await runner.startTransaction(); // SAVEPOINT
          await runner.manager.save(Book, { id: 2, title: 'Pasta' });
          await runner.commitTransaction(); // RELEASE SAVEPOINT: no bump yet
          await runner.startTransaction();
          await runner.manager.save(Note, { id: 1, text: 'rolled back' });
          await runner.rollbackTransaction(); // ROLLBACK TO SAVEPOINT: the note's change is dropped
          expect(bump).not.toHaveBeenCalled();
          expect(await library.probe()).toEqual([]);
          await runner.commitTransaction();
        } finally {
          await runner.release();
        }
        expect(bump).toHaveBeenCalledTimes(1);
        expect(await library.probe()).toEqual([...new Set([...BOOK_1, ...BOOK_2])].sort());
        expect((await library.listNotes())[0]!.text).toBe('return by Friday');
      });

      it('writes outside a transaction bump before their promise resolves', async () => {
        await dataSource.createQueryBuilder().update(Book).set({ title: 'now' }).where('id = 2').execute();
        expect((await library.book(2))!.title).toBe('now');
      });
    });

    it('a read that started before a write and finished after it never leaves a stale value readable', async () => {
      expect((await library.slowBook(1))!.title).toBe('Dune'); // cached
      await library.books.save({ id: 1, title: 'Dune, revised' }); // the cached one is now unreachable
      let reached!: () => void;
      let release!: () => void;
      const gate: Gate = {
        reached: () => reached(),
        release: new Promise<void>((resolve) => (release = resolve)),
      };
      const atGate = new Promise<void>((resolve) => (reached = resolve));
      library.gate = gate;
      const slow = library.slowBook(1); // reads the generation, then the row ('Dune, revised')
      await atGate;
      await library.books.save({ id: 1, title: 'Dune, final' }); // committed and bumped meanwhile
      release();
      expect((await slow)!.title).toBe('Dune, revised'); // what it read, returned to its caller
      expect((await library.slowBook(1))!.title).toBe('Dune, final'); // never the stale value
      expect((await library.slowBook(1))!.title).toBe('Dune, final');
    });

    it('CacheInvalidator.invalidate(Entity, id): that row and the entity; without an id, every entry of the entity', async () => {
      const invalidator = moduleRef.get(CacheInvalidator);
      await invalidator.invalidate(Shelf, 2);
      expect(await library.probe()).toEqual(['shelf2', 'shelves']);
      await invalidator.invalidate(Shelf);
      expect(await library.probe()).toEqual(['shelf1', 'shelf2', 'shelves']);
      // The shelf a book id sits on is unknown without the row: every shelf goes.
      await invalidator.invalidate(Book, 1);
      expect(await library.probe()).toEqual(['book1', 'books', 'shelf1', 'shelf2', 'shelves']);
    });

    it('attaches the subscriber once, and detaches it on shutdown', async () => {
      const ours = () =>
        dataSource.subscribers.filter((subscriber) => subscriber.constructor.name === 'InvalidationSubscriber');
      expect(ours()).toHaveLength(1);
      await moduleRef.close();
      expect(ours()).toHaveLength(0);
    });
  });
}

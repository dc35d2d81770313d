import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Column, DeleteDateColumn, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { Cacheable, InvalidatesAlso, type InvalidationRelation } from '../../lib/index.js';

// A small library: books on shelves (a change to a book also changes its shelf, as Rails'
// touch: true), loans of books (a change to a loan changes its book, declared in the module's
// options instead: LOAN_RELATIONS), and notes that have nothing to do with any of them.

@Entity('inv_shelf')
export class Shelf {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  name!: string;
}

@Entity('inv_book')
@InvalidatesAlso(() => Shelf, (book: Book) => book.shelfId)
export class Book {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  title!: string;

  @Column()
  shelfId!: number;

  @DeleteDateColumn({ nullable: true })
  deletedAt?: Date | null;
}

@Entity('inv_note')
export class Note {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  text!: string;
}

@Entity('inv_loan')
export class Loan {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  bookId!: number;

  @Column()
  borrower!: string;
}

/** `invalidation.relations` for the module: what `@InvalidatesAlso(() => Book, …)` on Loan would say. */
export const LOAN_RELATIONS: InvalidationRelation<Loan>[] = [{ from: Loan, to: () => Book, id: (loan) => loan.bookId }];

export const ENTITIES = [Shelf, Book, Note, Loan];

/** Lets a test hold a method between its database read and its return. */
export interface Gate {
  reached: () => void;
  release: Promise<void>;
}

/** Cached reads, each counting its runs, so a test sees exactly which entries a write invalidated. */
@Injectable()
export class Library {
  readonly runs = new Map<string, number>();
  gate: Gate | undefined;

  constructor(
    @InjectRepository(Book) readonly books: Repository<Book>,
    @InjectRepository(Shelf) readonly shelves: Repository<Shelf>,
    @InjectRepository(Note) readonly notes: Repository<Note>,
    @InjectRepository(Loan) readonly loans: Repository<Loan>,
  ) {}

  @Cacheable({ key: 'books', dependsOn: [Book] })
  async listBooks(): Promise<Book[]> {
    this.ran('books');
    return this.books.find({ order: { id: 'ASC' } });
  }

  @Cacheable({ key: 'book:{0}', dependsOn: [[Book, (args) => args[0]]] })
  async book(id: number): Promise<Book | null> {
    this.ran(`book${id}`);
    return this.books.findOne({ where: { id }, withDeleted: true });
  }

  @Cacheable({ key: 'shelves', dependsOn: [Shelf] })
  async listShelves(): Promise<Shelf[]> {
    this.ran('shelves');
    return this.shelves.find({ order: { id: 'ASC' } });
  }

  @Cacheable({ key: 'shelf:{0}', dependsOn: [[Shelf, (args) => args[0]]] })
  async shelf(id: number): Promise<Shelf | null> {
    this.ran(`shelf${id}`);
    return this.shelves.findOneBy({ id });
  }

  @Cacheable({ key: 'notes', dependsOn: [Note] })
  async listNotes(): Promise<Note[]> {
    this.ran('notes');
    return this.notes.find({ order: { id: 'ASC' } });
  }

  @Cacheable({ key: 'loans', dependsOn: [Loan] })
  async listLoans(): Promise<Loan[]> {
    this.ran('loans');
    return this.loans.find({ order: { id: 'ASC' } });
  }

  /** Reads the row, then waits at the gate (when one is set) before returning what it read. */
  @Cacheable({ key: 'slow:{0}', dependsOn: [[Book, (args) => args[0]]] })
  async slowBook(id: number): Promise<Book | null> {
    const row = await this.books.findOneBy({ id });
    const gate = this.gate;
    if (gate !== undefined) {
      this.gate = undefined;
      gate.reached();
      await gate.release;
    }
    return row;
  }

  /** Calls every cached read; returns the names of those that ran (were not served from the cache). */
  async probe(): Promise<string[]> {
    const before = new Map(this.runs);
    await this.listBooks();
    await this.book(1);
    await this.book(2);
    await this.listShelves();
    await this.shelf(1);
    await this.shelf(2);
    await this.listNotes();
    await this.listLoans();
    return [...this.runs.keys()].filter((name) => this.runs.get(name) !== before.get(name)).sort();
  }

  private ran(name: string): void {
    this.runs.set(name, (this.runs.get(name) ?? 0) + 1);
  }
}

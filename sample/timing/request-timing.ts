import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntitySubscriberInterface } from 'typeorm';

/**
 * One request's numbers, as Django's debug toolbar shows them: wall time and the SQL queries run
 * on its behalf. Views read it as `timing` (the footer); it also goes out in `Server-Timing`.
 */
export class RequestTiming {
  readonly startedOn = new Date();
  private readonly startedAt = performance.now();
  queries = 0;
  /** Milliseconds with at least one query running: concurrent queries count once. */
  dbMs = 0;
  private running = 0;
  private runningSince = 0;

  queryStarted(): void {
    this.queries++;
    if (this.running++ === 0) this.runningSince = performance.now();
  }

  queryEnded(): void {
    if (this.running > 0 && --this.running === 0) this.dbMs += performance.now() - this.runningSince;
  }

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** `db;desc="3 queries";dur=1.2, app;dur=4.5`: browser dev tools show it under Timing. */
  serverTiming(): string {
    const queries = `${this.queries} ${this.queries === 1 ? 'query' : 'queries'}`;
    return `db;desc="${queries}";dur=${this.dbMs.toFixed(2)}, app;dur=${this.elapsedMs().toFixed(2)}`;
  }
}

type Next = (error?: unknown) => void;

/**
 * Counts the queries of each request: a TypeORM subscriber on the app's DataSource sees every query
 * start and end (`beforeQuery`/`afterQuery`), and an AsyncLocalStorage tells whose request it ran
 * for. Each request holds its own small counter, gone with it: memory stays bounded. Queries run
 * outside a request (boot, the seed) count nowhere.
 */
@Injectable()
export class RequestTimings implements EntitySubscriberInterface, OnModuleInit, OnModuleDestroy {
  private readonly storage = new AsyncLocalStorage<RequestTiming>();

  constructor(private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    this.dataSource.subscribers.push(this);
  }

  onModuleDestroy(): void {
    const index = this.dataSource.subscribers.indexOf(this);
    if (index !== -1) this.dataSource.subscribers.splice(index, 1);
  }

  beforeQuery(): void {
    this.storage.getStore()?.queryStarted();
  }

  afterQuery(): void {
    this.storage.getStore()?.queryEnded();
  }

  /**
   * Express middleware: starts the request's timing, hands it to views as `timing`, and appends
   * its entries to `Server-Timing` when the headers go out (after the page cache wrote its own).
   */
  readonly middleware = (_request: IncomingMessage, response: ServerResponse, next: Next): void => {
    const timing = new RequestTiming();
    (response as ServerResponse & { locals: Record<string, unknown> }).locals.timing = timing;
    const writeHead = response.writeHead;
    response.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      const existing = this.getHeader('server-timing');
      const entries = timing.serverTiming();
      this.setHeader('server-timing', existing ? `${String(existing)}, ${entries}` : entries);
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['writeHead'];
    this.storage.run(timing, next);
  };
}

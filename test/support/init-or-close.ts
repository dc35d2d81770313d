import type { TestingModule } from '@nestjs/testing';

/**
 * Initializes a testing module; when its boot fails, closes it and rethrows the boot's error, so a
 * test of a failing boot leaves nothing for its afterEach to close. NestJS 11's `close()` rethrows
 * the failed boot's error before it closes anything (NestJS 12's closes), hence the catch.
 *
 * @example await initOrClose(moduleRef); modules.push(moduleRef);
 */
export async function initOrClose(moduleRef: TestingModule): Promise<void> {
  try {
    await moduleRef.init();
  } catch (error) {
    await moduleRef.close().catch(() => undefined);
    throw error;
  }
}

// An app whose filesystem cache lives on a 1 MB tmpfs that the test fills up or makes read-only.
// It runs in a mount namespace of its own (started through `unshare` by
// filesystem-faults.e2e.spec.ts), where it may mount without touching the machine's mounts, and
// takes its orders over the IPC channel: { id, command, args } in, { id, result } out.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Injectable, Module, Param } from '@nestjs/common';
import { Cacheable, CacheModule, CachePage, Caches } from '../../lib/index.js';
import { startApp, type AdapterName } from '../http/app/http-app.js';

const [mountPoint, adapter, commandTimeoutMs, handlerMs] = process.argv.slice(2) as [
  string,
  AdapterName,
  string,
  string,
];
execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint]);
const cacheDirectory = join(mountPoint, 'cache');
const filler = join(mountPoint, 'filler');

@Injectable()
class Source {
  runs = 0;
  async read(what: string) {
    this.runs++;
    await new Promise((resolve) => setTimeout(resolve, Number(handlerMs)));
    return { what, padding: 'x'.repeat(2_000) };
  }

  @Cacheable({ key: 'method:{0}', cache: 'files', timeout: 60 })
  cachedRead(id: string) {
    return this.read(id);
  }
}

@Controller('fs-faults')
class FileSystemFaultsController {
  constructor(private readonly source: Source) {}

  @Get('page/:id')
  @CachePage(60, { cache: 'files' })
  page(@Param('id') id: string) {
    return this.source.read(id);
  }

  @Get('method/:id')
  method(@Param('id') id: string) {
    return this.source.cachedRead(id);
  }
}

@Module({
  imports: [
    CacheModule.forRoot({
      default: { backend: 'locmem', location: 'fs-faults' },
      files: {
        backend: 'filesystem',
        location: cacheDirectory,
        commandTimeoutMs: Number(commandTimeoutMs),
        circuitBreaker: { failures: 3, breakSeconds: 0.5 },
      },
    }),
  ],
  controllers: [FileSystemFaultsController],
  providers: [Source],
})
class FileSystemFaultsModule {}

const { app, url } = await startApp(adapter, FileSystemFaultsModule);
const files = app.get(Caches).get('files');

/** Fills the tmpfs to the last byte with one file, as a runaway log would. */
function fill(): number {
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return written;
}

const commands: Record<string, (...args: string[]) => unknown> = {
  fill,
  free: () => rmSync(filler, { force: true }),
  readOnly: () => execFileSync('mount', ['-o', 'remount,ro', mountPoint]),
  writable: () => execFileSync('mount', ['-o', 'remount,rw', mountPoint]),
  runs: () => app.get(Source).runs,
  leftoverTempFiles: () => readdirSync(cacheDirectory).filter((name) => name.endsWith('-tmp')).length,
  set: async (key, size) => {
    try {
      await files.set(key!, 'v'.repeat(Number(size)));
      return { stored: true };
    } catch (error) {
      return { stored: false, error: (error as Error).name, message: (error as Error).message };
    }
  },
  get: async (key) => ((await files.get<string>(key!)) ?? null)?.length ?? null,
};

process.on('message', async ({ id, command, args }: { id: number; command: string; args: string[] }) => {
  if (command === 'exit') {
    await app.close();
    process.disconnect();
    return;
  }
  try {
    process.send!({ id, result: await commands[command]!(...args) });
  } catch (error) {
    process.send!({ id, failure: String(error) });
  }
});
process.send!({ url });

import { clearCommand } from './clear.command.js';
import { createCacheTableCommand } from './createcachetable.command.js';
import { UsageError } from './load-caches.js';
import { statsCommand } from './stats.command.js';

// The entry of `npx nestjs-caches` (bin/nestjs-caches.js imports the compiled dist/cli/main.js).
const USAGE = `Usage: nestjs-caches <command> [options]

Commands:
  createcachetable <table> --datasource <file> [--dry-run]   create a database cache table
  clear <alias> (--config <file> | --module <file>#<Class>)  clear an alias's entries
  stats (--config <file> | --module <file>#<Class>)          what each alias's backend holds

--config names a module exporting the caches object given to CacheModule.forRoot(); --module boots
the application's module (e.g. dist/app.module.js#AppModule) and uses its CacheModule.

Run \`nestjs-caches <command> --help\` for a command's options.`;

const output = { out: (line: string) => console.log(line), err: (line: string) => console.error(line) };

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'createcachetable':
      return createCacheTableCommand(args, output);
    case 'clear':
      return clearCommand(args, output);
    case 'stats':
      return statsCommand(args, output);
    case undefined:
    case '--help':
    case '-h':
      output.out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      output.err(`nestjs-caches: unknown command '${command}'.\n\n${USAGE}`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`nestjs-caches: ${error.message}.\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`nestjs-caches: ${(error as Error)?.message ?? String(error)}`);
    process.exitCode = 1;
  }
}

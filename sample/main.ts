import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { configureApp } from './configure-app.js';

const app = await NestFactory.create<NestExpressApplication>(AppModule);
configureApp(app);
// Ctrl-C and `kill` close the caches and the SQLite connection cleanly.
app.enableShutdownHooks();
const port = Number(process.env.PORT ?? 3000);
await app.listen(port);
new Logger('Recipes').log(`The showcase is on http://localhost:${port}/ (JSON under /recipes)`);

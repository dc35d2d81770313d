import 'reflect-metadata';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { startSample } from './start-sample.js';

// Debian's package, not a browser playwright downloads: CI installs it with apt like the servers.
const CHROMIUM = '/usr/bin/chromium';
const screenshots = fileURLToPath(new URL('../../screenshots/', import.meta.url));

/** The response that made the page's current document (after redirects), with its headers. */
async function visit(page: Page, url: string): Promise<Response> {
  const response = await page.goto(url);
  if (response === null) throw new Error(`no response for ${url}`);
  expect(response.status()).toBe(200);
  return response;
}

const xCache = (response: Response) => response.headers()['x-cache'];

describe('the showcase in Chromium', () => {
  const workDirectory = mkdtempSync(join(tmpdir(), 'nestjs-caches-browser-'));
  let app: INestApplication;
  let url: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: the browser test drives Debian's chromium. Install it with ` +
          '`apt-get install -y --no-install-recommends chromium` (as .ci/run and `npm test` as root do).',
      );
    }
    ({ app, url } = await startSample(workDirectory));
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
    // As dev tools' "Disable cache": @CachePage's max-age would otherwise let the browser answer
    // repeat visits from its own cache, and the test is about the server's.
    const devTools = await page.context().newCDPSession(page);
    await devTools.send('Network.enable');
    await devTools.send('Network.setCacheDisabled', { cacheDisabled: true });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    for (const name of ['SAMPLE_DB_PATH', 'CACHE_DIR']) delete process.env[name];
    rmSync(workDirectory, { recursive: true, force: true });
  });

  it('edits a recipe through the form and sees it at once, while other cached pages stay hits', async () => {
    await visit(page, `${url}/`);
    expect(await page.locator('h1').textContent()).toContain('Recipes');

    await page.click('nav >> text=@CachePage');
    expect(page.url()).toBe(`${url}/pages/per-view`);
    expect(xCache(await visit(page, `${url}/pages/per-view`))).toBe('HIT');
    // The browser reads this response's Server-Timing: the footer's script shows it.
    expect(await page.locator('#this-request').textContent()).toMatch(/cache HIT [\d.]+ ms · db 0 queries/);

    expect(xCache(await visit(page, `${url}/pages/recipes/1`))).toBe('MISS');
    expect(xCache(await visit(page, `${url}/pages/recipes/1`))).toBe('HIT');
    expect(xCache(await visit(page, `${url}/pages/recipes/3`))).toBe('MISS');
    expect(xCache(await visit(page, `${url}/pages/recipes/3`))).toBe('HIT');

    await visit(page, `${url}/pages/recipes/1`);
    await page.click('#edit');
    await page.fill('input[name="name"]', 'Carbonara, edited in Chromium');
    const [detail] = await Promise.all([
      page.waitForResponse((response) => response.url() === `${url}/pages/recipes/1`),
      page.click('button[type="submit"]'),
    ]);
    expect(page.url()).toBe(`${url}/pages/recipes/1`);
    expect(xCache(detail)).toBe('MISS');
    expect(await page.locator('#recipe-name').textContent()).toBe('Carbonara, edited in Chromium');

    const list = await visit(page, `${url}/pages/per-view`);
    expect(xCache(list)).toBe('MISS');
    expect(await page.locator('.card h3').first().textContent()).toBe('Carbonara, edited in Chromium');
    await visit(page, `${url}/pages/fragments`);
    expect(await page.locator('.card h3').first().textContent()).toBe('Carbonara, edited in Chromium');

    const other = await visit(page, `${url}/pages/recipes/3`);
    expect(xCache(other)).toBe('HIT');
    expect(await page.locator('#recipe-name').textContent()).toBe('Pancakes');

    await visit(page, `${url}/pages/per-view`);
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'showcase.png'), fullPage: true });
  });

  it("shows each page's cache calls in the cache panel, hits and misses, and who made them", async () => {
    await visit(page, `${url}/pages/recipes/2`);
    await visit(page, `${url}/pages/low-level`);
    const panel = page.locator('#cache-panel');
    await panel.waitFor();
    expect(await panel.locator('strong').textContent()).toMatch(/^Cache: \d+ calls, \d+ hits, [\d.]+ ms$/);
    const rows = await panel
      .locator('tr')
      .evaluateAll((trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every(([alias]) => alias === 'default' || alias === 'filesystem')).toBe(true);
    expect(rows.some(([, operation, , result]) => operation === 'get' && (result === 'hit' || result === 'miss'))).toBe(
      true,
    );

    // A page served from the page cache lists this request's calls, not those of the miss that stored it.
    expect(xCache(await visit(page, `${url}/pages/recipes/2`))).toBe('HIT');
    await page.locator('#cache-panel').waitFor();
    const hitRows = await page
      .locator('#cache-panel tr')
      .evaluateAll((trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    // dependsOn's generations (one getMany), the URL's Vary list, the page: nothing else ran.
    expect(hitRows.map(([, operation, , result, , by]) => [operation, result, by])).toEqual([
      ['getMany', 'hit', '@CachePage'],
      ['get', 'hit', '@CachePage'],
      ['get', 'hit', '@CachePage'],
    ]);
    await page.screenshot({ path: fileURLToPath(new URL('../../docs/cache-panel.png', import.meta.url)) });
  });
});

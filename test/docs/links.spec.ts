import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The README is a front page that links into docs/; a moved section or a renamed heading must not
// leave a reader at a dead link. Every relative link of the README and docs/ must reach a file, and
// every #anchor a heading of that file (GitHub's slugs: lower case, punctuation dropped, spaces to -).
const root = fileURLToPath(new URL('../..', import.meta.url));
const documents = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The document's lines outside fenced code blocks. */
function proseLines(text: string): string[] {
  let inFence = false;
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) inFence = !inFence;
    return !inFence && !line.startsWith('```');
  });
}

function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const headings = proseLines(readFileSync(file, 'utf8')).filter((line) => /^#{1,6} /.test(line));
  return new Set(headings.map((line) => slugOf(line.replace(/^#+ /, ''))));
}

/** `[document, target]` for each link that stays inside the repository. */
function relativeLinks(): Array<[string, string]> {
  return documents.flatMap((document) =>
    proseLines(readFileSync(join(root, document), 'utf8'))
      .flatMap((line) => [...line.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!))
      .filter((target) => !/^[a-z]+:/.test(target))
      .map((target): [string, string] => [document, target]),
  );
}

describe('the links of the README and docs/', () => {
  const links = relativeLinks();

  it('are found', () => {
    expect(links.length).toBeGreaterThan(20);
    expect(documents.length).toBeGreaterThan(10);
  });

  it('reach an existing file and heading', () => {
    const broken = links.filter(([document, target]) => {
      const [path, anchor] = target.split('#');
      const file = path ? join(root, dirname(document), path) : join(root, document);
      if (!existsSync(file)) return true;
      return anchor !== undefined && file.endsWith('.md') && !anchorsOf(file).has(anchor);
    });
    expect(broken.map(([document, target]) => `${document} → ${target}`)).toEqual([]);
  });

  it('would catch a dead anchor', () => {
    expect(anchorsOf(join(root, 'docs/backends.md')).has('tiered-tiered')).toBe(true);
    expect(anchorsOf(join(root, 'docs/backends.md')).has('no-such-heading')).toBe(false);
  });
});

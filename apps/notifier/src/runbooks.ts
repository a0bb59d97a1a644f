/**
 * The runbooks as a web page, so that an alert's `runbook_url` is a link a browser, a pager or
 * a chat opens: the stack's default RUNBOOK_BASE_URL is this page (infra/runner/settings.ts).
 * Headings get the anchors GitHub gives them, so the same `#servicedown` works here and on a
 * repository host.
 */
import { readFile } from 'node:fs/promises';
import { Marked } from 'marked';

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces as dashes. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

const markdown = new Marked({
  renderer: {
    heading({ tokens, depth, text }) {
      return `<h${depth} id="${headingAnchor(text)}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
    },
  },
});

/** The Markdown file as a page; read at each request, so an edited runbook shows at once. */
export async function runbooksPage(file: string): Promise<string> {
  const body = await markdown.parse(await readFile(file, 'utf8'));
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>Runbooks</title>',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}',
    'code{background:#f3f3f3;padding:0 .2em}pre{background:#f3f3f3;padding:.5rem;overflow:auto}',
    'h3{border-top:1px solid #ddd;padding-top:1rem}:target{background:#fff3c4}</style></head><body>',
    body,
    '</body></html>',
  ].join('\n');
}

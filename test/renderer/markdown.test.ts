// Answers rendered as Markdown: the structure a reader expects, and hostile text that must stay text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

import { Markdown } from '../../renderer/src/components/markdown.tsx';
import { parseMarkdown } from '../../renderer/src/components/markdown-parse.ts';

const html = (text: string) => renderToStaticMarkup(createElement(Markdown, { text })).replace(/^<div class="markdown">|<\/div>$/g, '');

test('headings sit below the page headings; paragraphs keep their line breaks', () => {
  assert.equal(html('# Title\n\nline one\nline two'), '<h3>Title</h3><p>line one<br/>line two</p>');
  assert.equal(html('#### Deep'), '<h6>Deep</h6>');
  assert.equal(html('#hashtag'), '<p>#hashtag</p>');
});

test('emphasis, strong, strike-through and inline code', () => {
  assert.equal(html('*a* **b** _c_ __d__ ~~e~~ `f`'), '<p><em>a</em> <strong>b</strong> <em>c</em> <strong>d</strong> <s>e</s> <code>f</code></p>');
  assert.equal(html('*outer **inner** outer*'), '<p><em>outer <strong>inner</strong> outer</em></p>');
  assert.equal(html('snake_case_name and 2 * 3 * 4'), '<p>snake_case_name and 2 * 3 * 4</p>');
  assert.equal(html('`` a `tick` ``'), '<p><code>a `tick`</code></p>');
  assert.equal(html('\\*not em\\*'), '<p>*not em*</p>');
});

test('lists: unordered, ordered with a start, nested, with continuation lines', () => {
  assert.equal(html('- one\n- two\n  - two.a\n  - two.b\n- three'), '<ul><li>one</li><li>two<ul><li>two.a</li><li>two.b</li></ul></li><li>three</li></ul>');
  assert.equal(html('3. c\n4. d\nstill d'), '<ol start="3"><li>c</li><li>d<br/>still d</li></ol>');
  assert.equal(html('1. a\n\n2. b'), '<ol><li>a</li><li>b</li></ol>');
  assert.equal(html('- a\n\ntext after'), '<ul><li>a</li></ul><p>text after</p>');
});

test('code blocks keep their text exactly, even while the fence is still open', () => {
  assert.equal(html('```ts\nconst a = 1;\n  indented <b>\n```\nafter'), '<pre data-language="ts"><code>const a = 1;\n  indented &lt;b&gt;</code></pre><p>after</p>');
  assert.equal(html('```\nstreaming **not bold**'), '<pre><code>streaming **not bold**</code></pre>');
});

test('block quotes, rules and tables', () => {
  assert.equal(html('> quoted *text*\n> more'), '<blockquote><p>quoted <em>text</em><br/>more</p></blockquote>');
  assert.equal(html('a\n\n---\n\nb'), '<p>a</p><hr/><p>b</p>');
  assert.equal(
    html('| Name | Pages |\n|:---|---:|\n| a.pdf | 3 |\n| b \\| c | 10 |'),
    '<table><thead><tr><th data-align="left">Name</th><th data-align="right">Pages</th></tr></thead>' +
      '<tbody><tr><td data-align="left">a.pdf</td><td data-align="right">3</td></tr><tr><td data-align="left">b | c</td><td data-align="right">10</td></tr></tbody></table>',
  );
});

test('links: http(s) and mailto open outside the app; anything else is only text', () => {
  assert.equal(html('[docs](https://example.org/a_(b))'), '<p><a href="https://example.org/a_(b)" target="_blank" rel="noopener noreferrer">docs</a></p>');
  assert.equal(html('<mailto:me@example.org>'), '<p><a href="mailto:me@example.org" target="_blank" rel="noopener noreferrer">mailto:me@example.org</a></p>');
  assert.equal(html('[click](javascript:alert(document.cookie))'), '<p><span>click</span></p>');
  assert.equal(html('[x](JaVaScRiPt:alert(1)) [y](data:text/html,<script>alert(1)</script>) [z](file:///etc/passwd)'), '<p><span>x</span> <span>y</span> <span>z</span></p>');
  assert.equal(html('[rel](/settings)'), '<p><span>rel</span></p>');
});

test('hostile HTML in an answer stays visible text and never becomes markup', () => {
  const hostile = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(1)</script>',
    '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://evil.example"></iframe>',
    '"><svg onload=alert(1)>',
    '![alt text](https://evil.example/pixel.png)',
    '**<b onmouseover=alert(1)>bold</b>**',
    '`<img src=x onerror=alert(1)>`',
    '# <style>body{display:none}</style>',
  ].join('\n\n');
  const out = html(hostile);
  assert.doesNotMatch(out, /<(img|script|iframe|svg|style|b )/i);
  assert.doesNotMatch(out, /<[^>]*\son\w+=/i, 'no element carries an event handler attribute');
  assert.doesNotMatch(out, /href="(?!https?:|mailto:)/);
  assert.match(out, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(out, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(out, /<p>alt text<\/p>/, 'images show their alt text and are not fetched');
  assert.match(out, /<h3>&lt;style&gt;/);
});

test('the parse tree is plain data (what the renderer walks)', () => {
  assert.deepEqual(parseMarkdown('## Hi *you*'), [{ type: 'heading', level: 2, children: [{ type: 'text', text: 'Hi ' }, { type: 'em', children: [{ type: 'text', text: 'you' }] }] }]);
  assert.deepEqual(parseMarkdown(''), []);
  assert.deepEqual(parseMarkdown('**unclosed'), [{ type: 'paragraph', children: [{ type: 'text', text: '**unclosed' }] }]);
});

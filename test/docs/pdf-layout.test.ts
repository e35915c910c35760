// Reading-order rules on hand-made pages (A4 in points, 10 pt text, 0.5 em per character), for the
// cases the PDF fixtures do not pin down on their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutPages, type LayoutItem, type LayoutPage } from '../../main/docs/pdf-layout.ts';

const W = 595;
const H = 842;
const SIZE = 10;

/** One run per word, as many PDF producers write text, spaced one character apart. */
function words(text: string, x: number, y: number): LayoutItem[] {
  const items: LayoutItem[] = [];
  for (const word of text.split(' ')) {
    items.push({ text: word, x, y, width: word.length * SIZE * 0.5, fontSize: SIZE });
    x += (word.length + 1) * SIZE * 0.5;
  }
  return items;
}

function page(...lines: Array<[string, number, number]>): LayoutPage {
  return { width: W, height: H, items: lines.flatMap(([text, x, y]) => words(text, x, y)) };
}

test('a header and a numbered footer on most pages are dropped; a repeated line mid-page is kept', () => {
  const pages = [1, 2, 3, 4].map((n) =>
    page(
      ['ACME Annual Review', 250, 810],
      [`Body of page ${n} starts here.`, 50, 700],
      ['Repeated mid-page sentence.', 50, 680],
      [`Closing line of page ${n}.`, 50, 660],
      [`- ${n} -`, 290, 30],
    ),
  );
  pages[2].items = pages[2].items.filter((item) => item.y !== 810); // one page without the header
  const texts = layoutPages(pages);
  texts.forEach((text, i) => {
    assert.equal(text, `Body of page ${i + 1} starts here.\nRepeated mid-page sentence.\nClosing line of page ${i + 1}.`);
  });
});

test('with two pages nothing counts as repeated, but a bare page number in the margin still goes', () => {
  const pages = [1, 2].map((n) => page(['Short Report', 250, 810], [`Text ${n}.`, 50, 700], [`${n}`, 295, 30]));
  assert.deepEqual(layoutPages(pages), ['Short Report\nText 1.', 'Short Report\nText 2.']);
  // the same number inside the body is content
  assert.equal(layoutPages([page(['Intro', 50, 760], ['42', 50, 500], ['End.', 50, 480])])[0], 'Intro\n\n42\nEnd.');
});

test('two columns of prose with a full-width title are read title, left column, right column', () => {
  const left = ['Alpha one two three four five six', 'seven eight nine ten eleven twelve', 'thirteen fourteen fifteen sixteen.'];
  const right = ['Beta one two three four five six', 'seven eight nine ten eleven twelve', 'thirteen fourteen fifteen sixteen.'];
  const p = page(
    ['A title that runs across the whole width of the page and its gutter', 50, 760],
    ...left.map((text, i): [string, number, number] => [text, 50, 730 - 12 * i]),
    ...right.map((text, i): [string, number, number] => [text, 320, 730 - 12 * i]),
    ['A closing paragraph that again runs across the whole width of the page.', 50, 650],
  );
  assert.deepEqual(layoutPages([p])[0].split('\n\n'), [
    'A title that runs across the whole width of the page and its gutter',
    left.join('\n'),
    right.join('\n'),
    'A closing paragraph that again runs across the whole width of the page.',
  ]);
});

test('a two-cell key/value table is not mistaken for columns: rows stay together', () => {
  const rows: Array<[string, string]> = [['Name', 'Ada Lovelace'], ['Born', '1815'], ['Field', 'Mathematics'], ['City', 'London']];
  const p = page(...rows.flatMap(([k, v], i): Array<[string, number, number]> => [[k, 50, 700 - 14 * i], [v, 320, 700 - 14 * i]]));
  assert.equal(layoutPages([p])[0], rows.map(([k, v]) => `${k}\t${v}`).join('\n'));
});

test('line-end hyphens join a word only before a lowercase letter; soft hyphens vanish', () => {
  const p = page(
    ['We must co-', 50, 700],
    ['operate with the East-', 50, 688],
    ['West committee and the in\u00ADternal team.', 50, 676],
  );
  assert.equal(layoutPages([p])[0], 'We must cooperate with the East-\nWest committee and the internal team.');
});

test('a page without text, or with only whitespace runs, gives empty text', () => {
  const blank: LayoutPage = { width: W, height: H, items: [{ text: '  ', x: 50, y: 700, width: 10, fontSize: SIZE }] };
  assert.deepEqual(layoutPages([blank, { width: W, height: H, items: [] }]), ['', '']);
});

test('roman page numbers in the margin go; table-of-contents dot leaders shrink to an ellipsis', () => {
  const p = page(['Contents', 50, 752], ['1 Introduction . . . . . . . . . . . . 1', 50, 740], ['2 Methods ............ 7', 50, 728], ['iv', 295, 30]);
  assert.equal(layoutPages([p])[0], 'Contents\n1 Introduction … 1\n2 Methods … 7');
});

test('a smaller superscript mark stays on its line', () => {
  const p = page(['As shown before', 50, 700], ['and confirmed later.', 50, 688]);
  p.items.push({ text: '12', x: 50 + 15 * SIZE * 0.5, y: 703.5, width: 7, fontSize: 7 });
  assert.equal(layoutPages([p])[0], 'As shown before12\nand confirmed later.');
});

test('alternating running heads (book title on even pages, chapter on odd pages) are dropped', () => {
  const pages = [1, 2, 3, 4, 5, 6].map((n) => page([n % 2 === 0 ? 'A Book Title' : 'Chapter Two: Tides', 250, 810], [`Body text of page ${n}.`, 50, 700]));
  assert.deepEqual(layoutPages(pages), [1, 2, 3, 4, 5, 6].map((n) => `Body text of page ${n}.`));
});

test('running heads that change with the chapter are dropped by their page numbers; body numbers stay', () => {
  const pages = [1, 2, 3, 4, 5, 6].map((n) =>
    page([`Chapter ${Math.ceil(n / 2)}: ${['Tides', 'Winds', 'Stars'][Math.ceil(n / 2) - 1]}`, 50, 810], [`${n + 4}`, 540, 810], [`${n + 10} apples were counted on this page.`, 50, 700]),
  );
  assert.deepEqual(layoutPages(pages), [1, 2, 3, 4, 5, 6].map((n) => `${n + 10} apples were counted on this page.`));
});

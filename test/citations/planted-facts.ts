// A document with one planted fact per page, hidden among filler prose, and a question per fact:
// the material of the citation figure (does the top citation name the page that holds the fact?).
// Facts use names and numbers that appear nowhere else in the document; filler sentences are
// drawn without replacement, so no two pages share a sentence.

import { makePdf, wrapParagraphs } from '../docs/make-pdf.ts';

export interface PlantedFact {
  /** the sentence written on the page */
  fact: string;
  question: string;
  /** a right answer contains this (case-insensitive; digit groups may be written without commas) */
  expect: string;
}

export const FACTS: PlantedFact[] = [
  { fact: 'The head gardener of the museum is Ottilie Brask.', question: 'Who is the head gardener of the museum?', expect: 'Brask' },
  { fact: 'The vault in the basement opens with the code 7316.', question: 'What code opens the vault in the basement?', expect: '7316' },
  { fact: "The museum's oldest painting was bought from a dealer in Lisbon.", question: "In which city was the museum's oldest painting bought?", expect: 'Lisbon' },
  { fact: 'The museum cat is called Pimento.', question: 'What is the museum cat called?', expect: 'Pimento' },
  { fact: 'The repair of the roof cost 48,200 dollars.', question: 'How much did the repair of the roof cost?', expect: '48,200' },
  { fact: 'The night guard of the museum is Tobias Wren.', question: 'Who is the night guard of the museum?', expect: 'Wren' },
  { fact: 'The summer exhibition shows 312 glass bottles.', question: 'How many glass bottles does the summer exhibition show?', expect: '312' },
  { fact: 'The founder of the museum was born in Dundee.', question: 'Where was the founder of the museum born?', expect: 'Dundee' },
  { fact: 'The cafe sells a blueberry tart called the Copper Crown.', question: 'What is the blueberry tart sold in the cafe called?', expect: 'Copper Crown' },
  { fact: 'The library of the museum holds 9,450 books about ships.', question: 'How many books about ships does the library of the museum hold?', expect: '9,450' },
];

const FILLER = [
  'The annual report describes the work of the past year in some detail.',
  'Visitors came from many towns along the coast and from further inland.',
  'Several rooms on the upper floor were repainted in a pale shade of green.',
  'The board met four times during the year to review plans and accounts.',
  'A group of volunteers helped to sort letters, maps and old photographs.',
  'School classes visited on weekday mornings, usually in the spring.',
  'The heating system was inspected before the start of the cold season.',
  'New labels were written for the display cases in the east wing.',
  'Members of the society received a printed newsletter every quarter.',
  'The staff attended a short course on the care of fragile paper.',
  'Most visitors said that the lighting in the main hall was pleasant.',
  'A small grant from the regional council paid for new display stands.',
  'The entrance hall was crowded on rainy afternoons in the autumn.',
  'Old wooden floors in the west corridor were sanded and sealed.',
  'The website was updated with opening hours and directions by bus.',
  'A lecture series on local history drew a steady audience all winter.',
  'Several donors asked that their gifts remain anonymous.',
  'The storage rooms were reorganised so that boxes are easier to find.',
  'Two students from the university spent the summer cataloguing prints.',
  'The parking area behind the building was resurfaced in early spring.',
  'A new ramp at the side door made the building easier to enter.',
  'Opening hours were extended on Thursdays during the holiday months.',
  'The committee thanked everyone who gave time and advice this year.',
  'Several old frames were cleaned and their glass was replaced.',
  'Feedback forms were placed near the exit and collected every week.',
  'The stairwell windows were repaired after a storm in the winter.',
  'A guided walk through the old town started from the front steps.',
  'Some objects were lent to a partner museum for a short period.',
  'The insurance policy was renewed after a careful review of values.',
  'A local choir sang in the main hall on the longest evening of the year.',
  'Children enjoyed the drawing corner set up near the model ships.',
  'The accounts were checked by an independent examiner in the spring.',
  'A photographer recorded each room before the repainting began.',
  'The shop added postcards and pencils with the museum emblem.',
  'Members voted to keep the annual fee at the same level as before.',
  'Humidity in the archive was measured daily and kept steady.',
  'A family day in the autumn brought many first-time visitors.',
  'The garden path was widened so that two people can walk side by side.',
  'Several chairs in the reading room were repaired and reupholstered.',
  'The evening openings were popular with people who work during the day.',
  'The plan for next year includes better signs in the courtyard.',
  'A survey of the collection found a few items in need of repair.',
  'Staff meetings were moved to Monday mornings at the request of the team.',
  'The old boiler will be replaced once the budget allows it.',
  'A display of local maps was moved to a brighter room on the ground floor.',
  'Visitors were asked not to touch the objects in the open displays.',
  'The society continued its friendly exchange with a museum abroad.',
  'Cleaning of the large carpets was done by a specialist firm.',
  'Many visitors stayed for tea after the guided tours on Sundays.',
  'The records of past exhibitions were collected into one binder.',
];

/** Filler sentences per page, around the fact. */
const FILLER_PER_PAGE = 5;

// Park-Miller: a fixed, portable sequence so the document is the same on every run.
function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 48271) % 2147483647) / 2147483647;
}

export interface PlantedDocument {
  /** per page, its paragraphs */
  pages: string[][];
  /** facts[n - 1] is on page n */
  facts: PlantedFact[];
}

/** The facts in a seeded order, one per page, each at a seeded position among filler sentences. */
export function plantedDocument(seed = 7, facts = FACTS): PlantedDocument {
  if (facts.length * FILLER_PER_PAGE > FILLER.length) throw new RangeError(`not enough filler for ${facts.length} pages`);
  const next = random(seed);
  const pool = shuffle([...FILLER], next);
  const order = shuffle([...facts], next);
  const pages = order.map((f, p) => {
    const sentences = pool.slice(p * FILLER_PER_PAGE, (p + 1) * FILLER_PER_PAGE);
    sentences.splice(1 + Math.floor(next() * (FILLER_PER_PAGE - 1)), 0, f.fact);
    return [sentences.slice(0, 3).join(' '), sentences.slice(3).join(' ')];
  });
  return { pages, facts: order };
}

function shuffle<T>(items: T[], next: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** A planted-facts document as a PDF. */
export function plantedPdf(document: PlantedDocument): Buffer {
  return makePdf(document.pages.map((paragraphs) => wrapParagraphs(paragraphs)));
}

/** Whether `answer` gives the expected string (numbers may drop their thousands commas). */
export function answerIsRight(answer: string, expect: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/(\d),(\d{3})/g, '$1$2');
  return norm(answer).includes(norm(expect));
}

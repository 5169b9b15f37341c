// Indentation facts about a document: its indent unit (tab or N spaces) and a line's leading whitespace.

/** Leading whitespace (spaces and tabs) of `line`. */
export function leadingWhitespace(line: string): string {
  const m = /^[ \t]*/.exec(line);
  return m ? m[0] : '';
}

/**
 * The document's indent unit: '\t' when most indented lines start with a tab, otherwise the most common positive
 * step between consecutive non-blank lines' space indentation (2, 4, ...). `fallback` when nothing is indented.
 */
export function detectIndentUnit(text: string, fallback: string): string {
  let tabLines = 0;
  let spaceLines = 0;
  const steps = new Map<number, number>();
  let previous = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    const ws = leadingWhitespace(line);
    if (ws.startsWith('\t')) {
      tabLines++;
      continue;
    }
    if (ws.length > 0) spaceLines++;
    const step = ws.length - previous;
    if (step > 0 && step <= 8) steps.set(step, (steps.get(step) ?? 0) + 1);
    previous = ws.length;
  }
  if (tabLines > spaceLines) return '\t';
  let best = 0;
  let bestCount = 0;
  for (const [step, count] of steps) {
    if (count > bestCount || (count === bestCount && step < best)) {
      best = step;
      bestCount = count;
    }
  }
  return best > 0 ? ' '.repeat(best) : fallback;
}

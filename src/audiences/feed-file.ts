/** A flat file's structure is wrong: the run fails with this reason and the audience is left as it was. */
export class FeedFileError extends Error {}

const MAX_LINE = 65_536;

/** One line's fields; a blank line has none. */
export function splitLine(raw: string, delimiter: string, line: number): string[] {
  const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (text.length > MAX_LINE) throw new FeedFileError(`Line ${line} is longer than ${MAX_LINE} characters.`);
  if (text.trim() === "") return [];
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (text[i] === " ") i++;
    if (text[i] === '"') {
      let value = "";
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote === -1) throw new FeedFileError(`Line ${line}: a quote is opened and not closed.`);
        value += text.slice(from, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          from = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      while (text[i] === " ") i++;
      fields.push(value);
      if (i >= text.length) return fields;
      if (!text.startsWith(delimiter, i)) throw new FeedFileError(`Line ${line}: text after a closing quote.`);
      i += delimiter.length;
    } else {
      const end = text.indexOf(delimiter, i);
      const value = (end === -1 ? text.slice(i) : text.slice(i, end)).trim();
      if (value.includes('"')) throw new FeedFileError(`Line ${line}: a quote inside an unquoted value.`);
      fields.push(value);
      if (end === -1) return fields;
      i = end + delimiter.length;
    }
  }
}

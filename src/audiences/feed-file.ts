/** A flat file's structure is wrong: the run fails with this reason and the audience is left as it was. */
export class FeedFileError extends Error {}

const MAX_LINE = 65_536;

/**
 * Reads a delimited text file one line at a time, holding one decoded chunk at most: the file
 * can be far larger than the Worker's memory. Fields may be double-quoted (`""` a quote);
 * a quoted field cannot span lines. Yields each line's fields (an empty array for a blank line).
 */
export async function* readDelimited(
  stream: ReadableStream<Uint8Array>,
  delimiter: string,
): AsyncGenerator<{ line: number; fields: string[] }[], void, undefined> {
  const reader = stream.pipeThrough(new TextDecoderStream("utf-8", { fatal: true })).getReader();
  let carry = "";
  let line = 1;
  let finished = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch {
        throw new FeedFileError(`Not valid UTF-8 (line ${line} or later).`);
      }
      if (chunk.done) break;
      const parts = (carry + chunk.value).split("\n");
      carry = parts.pop() ?? "";
      if (carry.length > MAX_LINE)
        throw new FeedFileError(`Line ${line + parts.length} is longer than ${MAX_LINE} characters.`);
      yield parts.map((raw) => ({ line: line, fields: splitLine(raw, delimiter, line++) }));
    }
    finished = true;
    if (carry.replace(/\r$/, "") !== "") yield [{ line, fields: splitLine(carry, delimiter, line) }];
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function splitLine(raw: string, delimiter: string, line: number): string[] {
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

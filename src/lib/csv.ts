/** What is wrong with a CSV line. */
export type CsvProblem = "columns" | "quote" | "too_long" | "encoding";

/** A CSV body the reader cannot accept; `line` is 1-based and counts every line, header and blank ones included. */
export class CsvError extends Error {
  readonly line: number;
  readonly problem: CsvProblem;
  /** The problem without the line number, for an issue whose path already names the line. */
  readonly reason: string;

  constructor(line: number, problem: CsvProblem, reason: string) {
    super(`Line ${line}: ${reason}`);
    this.name = "CsvError";
    this.line = line;
    this.problem = problem;
    this.reason = reason;
  }
}

/** One line of a one-column CSV: its value, or null when the line is blank. */
export interface CsvLine {
  line: number;
  value: string | null;
}

export interface CsvReadOptions {
  /** Longer lines are refused before they are held in memory (default 65,536 characters). */
  maxLineLength?: number;
}

const DEFAULT_MAX_LINE_LENGTH = 65_536;

/**
 * Reads a one-column CSV (an RFC 4180 subset) from a byte stream, one line at a time, holding
 * no more than one line in memory: the body can be far larger than the Worker's memory.
 *
 * - UTF-8 (a leading byte-order mark is skipped); invalid UTF-8 is refused.
 * - Lines end with LF or CRLF; the last line needs no line end.
 * - Whitespace around a value is trimmed; a blank line yields `value: null`.
 * - A value may be double-quoted, with `""` standing for one quote; the quotes are removed and
 *   what is inside them is kept as is. A quoted value cannot span lines: IDs never contain line
 *   breaks, and an unclosed quote is then reported on its own line, not at the end of the body.
 *
 * Throws {@link CsvError} with the line number for a second column (an unquoted comma), an
 * unclosed quote, a quote inside an unquoted value, text after a closing quote, a line longer
 * than `maxLineLength`, or invalid UTF-8. Breaking out of the loop cancels the stream.
 */
export async function* readCsvColumn(
  stream: ReadableStream<Uint8Array>,
  options: CsvReadOptions = {},
): AsyncGenerator<CsvLine, void, undefined> {
  for await (const lines of readCsvColumnBatches(stream, options)) yield* lines;
}

/**
 * {@link readCsvColumn}, a chunk of the body at a time: the lines of each decoded chunk in one
 * array, so a caller reading a million lines awaits once per chunk rather than once per line.
 * Lines before a refused one are yielded first, then the {@link CsvError} is thrown. Holds one
 * chunk's lines (plus the start of a line whose end has not arrived) in memory.
 */
export async function* readCsvColumnBatches(
  stream: ReadableStream<Uint8Array>,
  options: CsvReadOptions = {},
): AsyncGenerator<CsvLine[], void, undefined> {
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  const reader = stream.pipeThrough(new TextDecoderStream("utf-8", { fatal: true })).getReader();
  let line = 1;
  // The start of a line whose end has not arrived yet.
  let carry = "";
  let finished = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch (error) {
        // The decoder runs ahead of the parser by at most one chunk.
        if (error instanceof TypeError) {
          throw new CsvError(
            line,
            "encoding",
            "The body is not valid UTF-8 (the problem is on this line or a later one).",
          );
        }
        throw error;
      }
      if (chunk.done) break;
      const text = chunk.value;
      const lines: CsvLine[] = [];
      let refused: CsvError | null = null;
      let start = 0;
      try {
        for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
          const whole = carry === "" ? text.slice(start, end) : carry + text.slice(start, end);
          carry = "";
          if (whole.length > maxLineLength) throw tooLong(line, maxLineLength);
          lines.push({ line, value: parseValue(whole, line) });
          line++;
          start = end + 1;
        }
        carry += text.slice(start);
        if (carry.length > maxLineLength) throw tooLong(line, maxLineLength);
      } catch (error) {
        if (!(error instanceof CsvError)) throw error;
        refused = error;
      }
      if (lines.length) yield lines;
      if (refused) throw refused;
    }
    finished = true;
    if (carry !== "") yield [{ line, value: parseValue(carry, line) }];
  } finally {
    // Stops the upload when the caller stops early or the body is refused.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function tooLong(line: number, max: number): CsvError {
  return new CsvError(line, "too_long", `The line is longer than ${max} characters.`);
}

/** The value of one line (without its line end), or null when it is blank. */
function parseValue(raw: string, line: number): string | null {
  const text = raw.trim();
  if (text === "") return null;
  if (!text.startsWith('"')) {
    if (text.includes(",")) throw moreThanOneColumn(line);
    if (text.includes('"')) {
      throw new CsvError(
        line,
        "quote",
        'A quote inside an unquoted value: quote the whole value and double the quotes inside ("a""b").',
      );
    }
    return text;
  }
  let value = "";
  let from = 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) throw new CsvError(line, "quote", "A quote is opened and not closed on this line.");
    value += text.slice(from, quote);
    if (text[quote + 1] === '"') {
      value += '"';
      from = quote + 2;
      continue;
    }
    const rest = text.slice(quote + 1).trimStart();
    if (rest === "") return value;
    if (rest.startsWith(",")) throw moreThanOneColumn(line);
    throw new CsvError(line, "quote", "Text after the closing quote: double a quote that belongs to the value.");
  }
}

function moreThanOneColumn(line: number): CsvError {
  return new CsvError(
    line,
    "columns",
    "More than one column: send one ID per line (quote an ID that contains a comma).",
  );
}

/**
 * First characters a spreadsheet reads as the start of a formula (OWASP "CSV Injection"), after
 * any quotes of our own kind: a value that already reads `'=…` gets one more, so dropping one
 * gives every value back exactly.
 */
const FORMULA_START = /^'*[=+\-@\t\r]/;

/**
 * A cell as written in every CSV we produce: a value beginning with `=`, `+`, `-`, `@`, a tab or
 * a carriage return gets a leading `'`, so a spreadsheet shows it as text instead of running it,
 * and `neutralised` says the writer must quote it (OWASP's advice). Numbers count too: `-1`
 * becomes `'-1`. A reader gets the value back by dropping one leading `'` from a cell that is
 * quotes then one of those characters (`/^'+[=+\-@\t\r]/`).
 */
export function spreadsheetSafe(text: string): { value: string; neutralised: boolean } {
  return FORMULA_START.test(text) ? { value: `'${text}`, neutralised: true } : { value: text, neutralised: false };
}

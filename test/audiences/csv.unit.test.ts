import { describe, expect, it } from "vitest";
import { CsvError, type CsvLine, readCsvColumn, readCsvColumnBatches } from "../../src/lib/csv";

const encoder = new TextEncoder();

/** A byte stream delivering exactly these chunks, so tests choose where the boundaries fall. */
function streamOf(...chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>, maxLineLength?: number): Promise<CsvLine[]> {
  const lines: CsvLine[] = [];
  for await (const line of readCsvColumn(stream, { maxLineLength })) lines.push(line);
  return lines;
}

const values = async (...chunks: (string | Uint8Array)[]) => (await readAll(streamOf(...chunks))).map((l) => l.value);

/** The CsvError the stream ends with, and the lines read before it. */
async function failure(...chunks: (string | Uint8Array)[]): Promise<{ error: CsvError; before: CsvLine[] }> {
  const before: CsvLine[] = [];
  try {
    for await (const line of readCsvColumn(streamOf(...chunks))) before.push(line);
  } catch (error) {
    expect(error).toBeInstanceOf(CsvError);
    return { error: error as CsvError, before };
  }
  throw new Error("expected a CsvError");
}

describe("readCsvColumn: values", () => {
  it("numbers every line from 1, blank ones as null", async () => {
    expect(await readAll(streamOf("a\n\nb\n   \nc"))).toEqual([
      { line: 1, value: "a" },
      { line: 2, value: null },
      { line: 3, value: "b" },
      { line: 4, value: null },
      { line: 5, value: "c" },
    ]);
  });

  it("reads LF and CRLF line ends alike, with or without a final line end", async () => {
    expect(await values("a\r\nb\r\nc\r\n")).toEqual(["a", "b", "c"]);
    expect(await values("a\nb\r\nc")).toEqual(["a", "b", "c"]);
    expect(await values("\r\n\r\n")).toEqual([null, null]);
  });

  it("does not invent a line after the last line end", async () => {
    const lines = await readAll(streamOf("a\n"));
    expect(lines).toEqual([{ line: 1, value: "a" }]);
  });

  it("trims whitespace around a value, quoted or not", async () => {
    expect(await values('  a b \t\n\t"c"  \r\n')).toEqual(["a b", "c"]);
  });

  it("unquotes values, keeping what is inside the quotes as is", async () => {
    expect(await values('"a,b"\n" padded "\n""\n"x"\n')).toEqual(["a,b", " padded ", "", "x"]);
  });

  it('reads "" inside quotes as one quote', async () => {
    expect(await values('"say ""hi"""\n""""\n"a""b""c"')).toEqual(['say "hi"', '"', 'a"b"c']);
  });

  it("skips a UTF-8 byte-order mark and reads non-ASCII text", async () => {
    expect(await values(new Uint8Array([0xef, 0xbb, 0xbf]), "héllo\n日本\n")).toEqual(["héllo", "日本"]);
  });

  it("yields nothing for an empty stream", async () => {
    expect(await readAll(streamOf())).toEqual([]);
  });
});

describe("readCsvColumn: chunk boundaries", () => {
  it("joins a line split across chunks", async () => {
    expect(await readAll(streamOf("ab", "c\nde", "f\n", "g"))).toEqual([
      { line: 1, value: "abc" },
      { line: 2, value: "def" },
      { line: 3, value: "g" },
    ]);
  });

  it("joins a quoted value split inside the quotes, and an escaped quote split between its two quotes", async () => {
    expect(await values('"a,', 'b"\n"x"', '"y"\n')).toEqual(["a,b", 'x"y']);
  });

  it("splits CRLF across chunks", async () => {
    expect(await values("a\r", "\nb\r", "\n")).toEqual(["a", "b"]);
  });

  it("decodes a multi-byte character split across chunks", async () => {
    const bytes = encoder.encode("é\n");
    expect(await values(bytes.slice(0, 1), bytes.slice(1))).toEqual(["é"]);
  });

  it("gives the same result for every chunking of the same body", async () => {
    const body = 'id\r\n"a,1"\n\n  b \n"c""d"\r\ne';
    const expected = await readAll(streamOf(body));
    for (let size = 1; size <= body.length; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < body.length; i += size) chunks.push(body.slice(i, i + size));
      expect(await readAll(streamOf(...chunks))).toEqual(expected);
    }
    expect(expected.map((l) => l.value)).toEqual(["id", "a,1", null, "b", 'c"d', "e"]);
  });

  it("reads 100,000 lines in small chunks", async () => {
    const body = Array.from({ length: 100_000 }, (_, i) => `user-${i}`).join("\n");
    const chunks: string[] = [];
    for (let i = 0; i < body.length; i += 1000) chunks.push(body.slice(i, i + 1000));
    const lines = await readAll(streamOf(...chunks));
    expect(lines).toHaveLength(100_000);
    expect(lines[99_999]).toEqual({ line: 100_000, value: "user-99999" });
  });
});

describe("readCsvColumn: refused lines", () => {
  it("refuses a second column, with its line number", async () => {
    const { error, before } = await failure("a\n\nb,c\nd\n");
    expect(error).toMatchObject({ line: 3, problem: "columns" });
    expect(error.reason).toMatch(/more than one column/i);
    expect(error.message).toMatch(/^Line 3: /);
    expect(before.map((l) => l.value)).toEqual(["a", null]);
  });

  it("refuses a second column after a quoted value, and a trailing comma", async () => {
    expect((await failure('"a" , b\n')).error).toMatchObject({ line: 1, problem: "columns" });
    expect((await failure("a\nb,\n")).error).toMatchObject({ line: 2, problem: "columns" });
  });

  it("refuses an unclosed quote on its own line, even when a later line has a quote", async () => {
    const { error } = await failure('a\n"b\nc"\n');
    expect(error).toMatchObject({ line: 2, problem: "quote" });
    expect(error.reason).toMatch(/not closed/);
  });

  it("refuses an unclosed quote on the last line, split across chunks", async () => {
    expect((await failure("a\n", '"b""', "c")).error).toMatchObject({ line: 2, problem: "quote" });
  });

  it("refuses a quote inside an unquoted value and text after a closing quote", async () => {
    expect((await failure('ab"c\n')).error).toMatchObject({ line: 1, problem: "quote" });
    expect((await failure('x\n"ab"c\n')).error).toMatchObject({ line: 2, problem: "quote" });
  });

  it("refuses a line longer than the limit before holding it whole", async () => {
    let error: unknown;
    try {
      await readAll(streamOf("short\n", "x".repeat(30), "x".repeat(30), "\n"), 50);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ line: 2, problem: "too_long" });
  });

  it("refuses invalid UTF-8", async () => {
    const { error } = await failure(new Uint8Array([0x61, 0x0a, 0xff, 0xfe, 0x0a]));
    expect(error.problem).toBe("encoding");
    expect(error.reason).toMatch(/UTF-8/);
  });

  it("cancels the stream when the caller stops early", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(encoder.encode("a\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const line of readCsvColumn(stream)) if (line.line === 3) break;
    expect(cancelled).toBe(true);
  });
});

describe("readCsvColumnBatches", () => {
  it("yields the lines of each chunk together, the good lines before a refused one, then the error", async () => {
    const batches: CsvLine[][] = [];
    let error: unknown;
    try {
      for await (const lines of readCsvColumnBatches(streamOf("a\nb\nc", "\nd\ne,f\ng\n"))) batches.push(lines);
    } catch (e) {
      error = e;
    }
    expect(batches).toEqual([
      [
        { line: 1, value: "a" },
        { line: 2, value: "b" },
      ],
      [
        { line: 3, value: "c" },
        { line: 4, value: "d" },
      ],
    ]);
    expect(error).toBeInstanceOf(CsvError);
    expect((error as CsvError).line).toBe(5);
  });
});

/**
 * The values of an NDJSON object (our own staged events and sub-runs), a chunk of the body at a
 * time: the lines each decoded chunk completes, parsed, in one array, so a reader of a million
 * lines awaits once per chunk rather than once per line. Holds one chunk's values plus the start
 * of a line whose end has not arrived, whatever the object's size.
 */
export async function* ndjsonBatches<T>(body: ReadableStream<Uint8Array>): AsyncGenerator<T[], void, undefined> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let carry = "";
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const text = carry + (done ? decoder.decode() : decoder.decode(value, { stream: true }));
      const values: T[] = [];
      let start = 0;
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        if (end > start) values.push(JSON.parse(text.slice(start, end)) as T);
        start = end + 1;
      }
      carry = text.slice(start);
      if (done && carry) values.push(JSON.parse(carry) as T);
      if (values.length > 0) yield values;
      if (done) break;
    }
    finished = true;
  } finally {
    // A reader that stops early lets go of the body rather than leaving it half read.
    if (!finished) await reader.cancel();
  }
}

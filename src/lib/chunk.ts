/** Splits items into runs bounded by count and by size (serialized JSON bytes unless told), keeping their order. */
export function chunkBy<T>(
  items: T[],
  maxCount: number,
  maxSize: number,
  sizeOf: (item: T) => number = jsonBytes,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || size + itemSize > maxSize)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += itemSize;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** Serialized (JSON) size of a value, in bytes. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value));
}

/** Any UTF-16 unit past ASCII (surrogates included: the pattern has no `u` flag). */
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The UTF-8 size of `text` without encoding it: every event of a batch is measured, and in
 * workerd `TextEncoder.encode` allocates a buffer per call (about 5% of the isolate's time in
 * the SDK warm profile went there). A lone surrogate counts 3 bytes, as the U+FFFD it becomes.
 */
export function utf8Bytes(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: one code point of 4 bytes.
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const encoder = new TextEncoder();

/** Splits items into runs bounded by count and by serialized (JSON) size, keeping their order. */
export function chunkBy<T>(items: T[], maxCount: number, maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = encoder.encode(JSON.stringify(item)).byteLength;
    if (current.length > 0 && (current.length >= maxCount || bytes + itemBytes > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += itemBytes;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** Serialized (JSON) size of a value, in bytes. */
export function jsonBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).byteLength;
}

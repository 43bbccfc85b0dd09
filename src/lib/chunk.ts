const encoder = new TextEncoder();

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
  return encoder.encode(JSON.stringify(value)).byteLength;
}

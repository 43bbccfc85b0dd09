import type { Manifest } from "./files";

const MiB = 1024 * 1024;

/** R2 takes parts of at least 5 MiB, all but the last of one size; 8 MiB leaves room. */
export const DEFAULT_PART_BYTES = 8 * MiB;
export const MIN_PART_BYTES = 5 * MiB;

const toHex = (buffer: ArrayBuffer) =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Writes one R2 object from text handed over in slices, never holding more than one part.
 * Parts are cut at exactly `partBytes`, so every part but the last has the same size, as R2's
 * multipart upload requires. A file that fits in one part is a single `put`. The SHA-256 and
 * byte count are computed along the way (workerd's DigestStream), for the manifest.
 */
export class ObjectWriter {
  readonly #bucket: R2Bucket;
  readonly #key: string;
  readonly #partBytes: number;
  readonly #options: R2PutOptions;
  readonly #encoder = new TextEncoder();
  readonly #digest = new crypto.DigestStream("SHA-256");
  readonly #hasher = this.#digest.getWriter();
  #buffer: Uint8Array;
  #filled = 0;
  #bytes = 0;
  #upload: R2MultipartUpload | null = null;
  #parts: R2UploadedPart[] = [];
  rows = 0;

  constructor(bucket: R2Bucket, key: string, options: R2PutOptions & { partBytes?: number } = {}) {
    const { partBytes = DEFAULT_PART_BYTES, ...put } = options;
    this.#bucket = bucket;
    this.#key = key;
    this.#partBytes = partBytes;
    this.#options = put;
    this.#buffer = new Uint8Array(partBytes);
  }

  /** Appends text (whole CSV records) and counts `rows` of them. */
  async write(text: string, rows = 0): Promise<void> {
    this.rows += rows;
    if (text.length === 0) return;
    await this.writeBytes(this.#encoder.encode(text));
  }

  async writeBytes(bytes: Uint8Array): Promise<void> {
    await this.#hasher.write(bytes);
    this.#bytes += bytes.byteLength;
    let offset = 0;
    while (offset < bytes.byteLength) {
      const take = Math.min(this.#partBytes - this.#filled, bytes.byteLength - offset);
      this.#buffer.set(bytes.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === this.#partBytes) await this.#flushPart();
    }
  }

  async #flushPart(): Promise<void> {
    this.#upload ??= await this.#bucket.createMultipartUpload(this.#key, this.#options);
    const body = this.#buffer.slice(0, this.#filled);
    this.#parts.push(await this.#upload.uploadPart(this.#parts.length + 1, body));
    this.#filled = 0;
  }

  /** Ends the object; returns what its manifest says. */
  async close(): Promise<Manifest & { parts: number }> {
    try {
      if (this.#upload === null) {
        await this.#bucket.put(this.#key, this.#buffer.slice(0, this.#filled), this.#options);
      } else {
        if (this.#filled > 0) await this.#flushPart();
        await this.#upload.complete(this.#parts);
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
    await this.#hasher.close();
    const sha256 = toHex(await this.#digest.digest);
    return { rows: this.rows, bytes: this.#bytes, sha256, parts: Math.max(1, this.#parts.length) };
  }

  /** Abandons a multipart upload so its parts are not billed until R2's own cleanup. */
  async abort(): Promise<void> {
    if (this.#upload) await this.#upload.abort().catch(() => {});
  }
}

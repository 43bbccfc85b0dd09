import type { Manifest } from "./files";

const MiB = 1024 * 1024;

/** R2 takes parts of at least 5 MiB, all but the last of one size; 8 MiB leaves room. */
export const DEFAULT_PART_BYTES = 8 * MiB;
export const MIN_PART_BYTES = 5 * MiB;
/** The part buffer starts this small and doubles as needed: a sub-run of 3 MiB holds 4, not 8. */
const FIRST_BUFFER_BYTES = 64 * 1024;

const toHex = (buffer: ArrayBuffer) =>
  Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

/** Where a multipart upload stands between invocations (it travels in a queue message). */
export interface SuspendedUpload {
  uploadId: string;
  parts: R2UploadedPart[];
  rows: number;
  bytes: number;
}

/**
 * Writes one R2 object from text handed over in slices, never holding more than one part (and
 * no more than the object for a small one).
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
  /** False once the object was begun by another invocation: its hash is read back at close. */
  #hashed = true;
  rows = 0;

  constructor(
    bucket: R2Bucket,
    key: string,
    options: R2PutOptions & { partBytes?: number; resume?: SuspendedUpload } = {},
  ) {
    const { partBytes = DEFAULT_PART_BYTES, resume, ...put } = options;
    this.#bucket = bucket;
    this.#key = key;
    this.#partBytes = partBytes;
    this.#options = put;
    this.#buffer = new Uint8Array(Math.min(FIRST_BUFFER_BYTES, partBytes));
    if (resume) {
      this.#upload = bucket.resumeMultipartUpload(key, resume.uploadId);
      this.#parts = [...resume.parts];
      this.rows = resume.rows;
      this.#bytes = resume.bytes;
      this.#hashed = false;
    }
  }

  /** Whether this writer carries on an upload another invocation began. */
  get resumed(): boolean {
    return !this.#hashed;
  }

  /**
   * Stops here so another invocation can carry on: returns the upload's state and the bytes not
   * yet in a part (less than one part), which the caller keeps (R2) and writes first on resuming.
   */
  async suspend(): Promise<{ state: SuspendedUpload; tail: Uint8Array }> {
    this.#upload ??= await this.#bucket.createMultipartUpload(this.#key, this.#options);
    return {
      state: { uploadId: this.#upload.uploadId, parts: this.#parts, rows: this.rows, bytes: this.#bytes },
      tail: this.#buffer.slice(0, this.#filled),
    };
  }

  /** Writes bytes a suspended writer left over: counted already, so not counted again. */
  async writeTail(bytes: Uint8Array): Promise<void> {
    const counted = this.#bytes;
    await this.writeBytes(bytes);
    this.#bytes = counted;
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
      this.#reserve(this.#filled + take);
      this.#buffer.set(bytes.subarray(offset, offset + take), this.#filled);
      this.#filled += take;
      offset += take;
      if (this.#filled === this.#partBytes) await this.#flushPart();
    }
  }

  /** Grows the part buffer (by doubling, up to a part) to hold `bytes`, keeping what it holds. */
  #reserve(bytes: number): void {
    if (bytes <= this.#buffer.byteLength) return;
    let size = this.#buffer.byteLength;
    while (size < bytes) size = Math.min(size * 2, this.#partBytes);
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#filled));
    this.#buffer = grown;
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
        await this.#bucket.put(this.#key, this.#buffer.subarray(0, this.#filled), this.#options);
      } else {
        if (this.#filled > 0) await this.#flushPart();
        await this.#upload.complete(this.#parts);
      }
    } catch (error) {
      await this.abort();
      throw error;
    }
    await this.#hasher.close();
    const sha256 = this.#hashed ? toHex(await this.#digest.digest) : await this.#readBackHash();
    return { rows: this.rows, bytes: this.#bytes, sha256, parts: Math.max(1, this.#parts.length) };
  }

  /** The SHA-256 of the object as stored, streamed: the invocations that wrote it each saw a part. */
  async #readBackHash(): Promise<string> {
    const object = await this.#bucket.get(this.#key);
    if (!object) throw new Error("the object just written is missing");
    const digest = new crypto.DigestStream("SHA-256");
    await object.body.pipeTo(digest);
    return toHex(await digest.digest);
  }

  /** Abandons a multipart upload so its parts are not billed until R2's own cleanup. */
  async abort(): Promise<void> {
    if (this.#upload) await this.#upload.abort().catch(() => {});
  }
}

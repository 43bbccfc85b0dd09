import type { Op } from "./queue";

/** A problem the SDK reports through `onError` (or throws, for a refused custom ID). */
export class EdgeCdpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly ops: Op[] = [],
  ) {
    super(message);
    this.name = "EdgeCdpError";
  }
}

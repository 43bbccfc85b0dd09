import { expect, vi } from "vitest";
import { call, type Project, restHeaders } from "../support/harness";

export interface PrivacyRequestBody {
  request_id: string;
  type: "review" | "remove";
  identifier: { type: string; value: string };
  status: "pending" | "done" | "failed";
  error?: string;
  created_at: string;
  completed_at: string | null;
  receipt?: {
    profile_id: string;
    profile_ids: string[];
    installation_ids: string[];
    custom_id_freed: boolean;
    steps: { step: string; where: string; at: string; rows: Record<string, number> }[];
    totals: Record<string, number>;
  };
  archive_url?: string;
  callback?: { url: string; state: string | null; attempts: number; last_error: string | null };
}

/** POSTs a privacy request that must be accepted; returns its ID. */
export async function submit(p: Project, body: unknown): Promise<string> {
  const res = await call("POST", "/v1/privacy/requests", { headers: restHeaders(p), body });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json<{ request_id: string }>()).request_id;
}

export async function getRequest(p: Project, id: string): Promise<PrivacyRequestBody> {
  const res = await call("GET", `/v1/privacy/requests/${id}`, { headers: restHeaders(p) });
  expect(res.status).toBe(200);
  return res.json<PrivacyRequestBody>();
}

/** Waits until the queue has carried the request to its final state. */
export async function settled(p: Project, id: string): Promise<PrivacyRequestBody> {
  return vi.waitFor(
    async () => {
      const body = await getRequest(p, id);
      expect(body.status).not.toBe("pending");
      return body;
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** Submits a request and waits for its final state. */
export async function run(p: Project, body: unknown): Promise<PrivacyRequestBody> {
  return settled(p, await submit(p, body));
}

export async function archiveOf(p: Project, id: string) {
  const res = await call("GET", `/v1/privacy/requests/${id}/archive`, { headers: restHeaders(p) });
  return { status: res.status, body: res.status === 200 ? await res.json<Record<string, unknown>>() : null };
}

// A Batch customer's backend, as written for Batch: it knows Batch's base URL, an app's API key
// (in `/1.x/{API_KEY}` paths), the REST API key (X-Authorization on 1.x; Bearer and
// X-Batch-Project on 2.x), and nothing of edge-cdp.

/** Batch's server APIs, called as Batch documents them. */
export class BatchClient {
  /** @param {{ base: string, apiKey: string, restKey: string, projectKey: string }} options */
  constructor({ base, apiKey, restKey, projectKey }) {
    this.base = base;
    this.apiKey = apiKey;
    this.restKey = restKey;
    this.projectKey = projectKey;
  }

  async #send(method, url, headers, body) {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** A `/1.x/{API_KEY}/…` call: `curl -H "X-Authorization: BATCH_REST_API_KEY" …`. */
  v1(method, version, path, body) {
    return this.#send(
      method,
      `${this.base}/${version}/${this.apiKey}${path}`,
      { "X-Authorization": this.restKey },
      body,
    );
  }

  /** A `/2.x/…` call. */
  v2(method, path, body) {
    return this.#send(
      method,
      `${this.base}/2.0${path}`,
      { Authorization: `Bearer ${this.restKey}`, "X-Batch-Project": this.projectKey },
      body,
    );
  }

  setCustomData(customId, payload) {
    return this.v1("POST", "1.0", `/data/users/${encodeURIComponent(customId)}`, payload);
  }
  setCustomDataBulk(payload) {
    return this.v1("POST", "1.0", "/data/users", payload);
  }
  deleteCustomData(customId) {
    return this.v1("DELETE", "1.0", `/data/users/${encodeURIComponent(customId)}`);
  }
  trackEvents(customId, payload) {
    return this.v1("POST", "1.0", `/events/users/${encodeURIComponent(customId)}`, payload);
  }
  trackEventsBulk(payload) {
    return this.v1("POST", "1.0", "/events/users", payload);
  }
  sendTransactional(payload) {
    return this.v1("POST", "1.1", "/transactional/send", payload);
  }
  audience(action, payload) {
    return payload === undefined
      ? this.v2("GET", `/audiences/${action}`)
      : this.v2("POST", `/audiences/${action}`, payload);
  }
}

declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}

/** A file's text, as Vite's `?raw` import gives it (tests that check a setting against its file). */
declare module "*?raw" {
  const text: string;
  export default text;
}

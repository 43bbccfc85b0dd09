/** The profile debugger's markup; debug.js fills in the profile (SPEC §7). */
export const DEBUG_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Profile debugger · edge-cdp</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/debug/debug.css">
<script src="/debug/debug.js" defer></script>
</head>
<body>
<header class="bar">
  <h1>Profile debugger</h1>
  <form id="credentials" class="credentials" autocomplete="off">
    <label>Project ID <input id="project-id" name="project" required spellcheck="false"></label>
    <label>REST API key <input id="rest-key" name="key" type="password" required spellcheck="false"></label>
    <button type="submit">Use</button>
    <button type="button" id="forget" class="quiet">Forget</button>
    <span id="credentials-state" class="hint">Kept in this tab only.</span>
  </form>
</header>
<main>
  <form id="lookup" class="lookup" autocomplete="off">
    <label>Look up by
      <select id="kind" name="kind">
        <option value="custom_id">Custom ID</option>
        <option value="installation_id">Installation ID</option>
        <option value="profile_id">Profile ID</option>
      </select>
    </label>
    <input id="identifier" name="identifier" required spellcheck="false" placeholder="user-42, an installation UUID or a profile ID">
    <button type="submit">Look up</button>
  </form>
  <div id="status" role="status" aria-live="polite"></div>
  <div id="profile" hidden></div>
</main>
</body>
</html>
`;

// The shell examples of a Markdown document: each ```sh block, its commands (with the lines
// they span) and the responses the document shows for them (`# →` comments).
import { parseExpectation } from "./expect.mjs";

/** Put on the line before a fence: the block is shown, never run (it needs a real account...). */
export const SKIP_MARKER = "<!-- readme-test: skip -->";

/**
 * The document's shell blocks in order: {startLine (1-based, of the first line inside the
 * fence), lines, skip, commands: [{first, last (0-based within the block), curl, expect}]}.
 */
export function shellBlocks(markdown) {
  const lines = markdown.split("\n");
  const blocks = [];
  for (let n = 0; n < lines.length; n++) {
    const open = /^```(sh|bash|shell)\s*$/.exec(lines[n]);
    if (!open) continue;
    const skip = lines[n - 1]?.trim() === SKIP_MARKER;
    const body = [];
    let end = n + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) body.push(lines[end++]);
    blocks.push({ startLine: n + 2, lines: body, skip, commands: skip ? [] : commandsOf(body) });
    n = end;
  }
  return blocks;
}

/**
 * Splits a block into commands: lines joined by a trailing backslash or by an open quote.
 * A `# →` comment (with its `#   ` continuation lines) is the response of the command before it.
 */
export function commandsOf(lines) {
  const commands = [];
  let current = null;
  let quote = null;
  let continued = false;
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k];
    if (current && (quote || continued)) {
      current.last = k;
    } else {
      const arrow = /^\s*# → ?(.*)$/.exec(line);
      if (arrow) {
        let text = arrow[1];
        while (k + 1 < lines.length && /^\s*# {2,}\S/.test(lines[k + 1]))
          text += ` ${lines[++k].replace(/^\s*#\s+/, "")}`;
        const target = commands.at(-1);
        if (!target) throw new Error(`line ${k + 1}: a response shown before any command`);
        if (target.expect) throw new Error(`line ${k + 1}: two responses shown for one command`);
        target.expect = parseExpectation(text);
        continue;
      }
      if (/^\s*(#|$)/.test(line)) continue;
      current = { first: k, last: k, text: "", curl: false, expect: undefined };
      commands.push(current);
    }
    current.text += `${line}\n`;
    if (!quote && /(^|[\s|;&(`]|\$\()curl\s/.test(line)) current.curl = true;
    ({ quote, continued } = scan(line, quote));
  }
  return commands;
}

/** The quote still open at the end of `line` (given the one open at its start), and a trailing `\`. */
function scan(line, open) {
  let quote = open;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote === "'") {
      if (ch === "'") quote = null;
    } else if (quote === '"') {
      if (ch === "\\") i++;
      else if (ch === '"') quote = null;
    } else if (ch === "\\") i++;
    else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "#" && (i === 0 || /\s/.test(line[i - 1]))) break;
  }
  return { quote, continued: quote === null && /\\$/.test(line) };
}

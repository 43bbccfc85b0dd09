// Ratios, targets and the markdown tables the benchmark prints (pasteable into the README).
import { PRICE_NOTES, PRICES_READ_ON } from "./prices.mjs";

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : +(a / b).toFixed(2));

/**
 * Sets `row`'s ratios against its yardstick row measured in the same run: requests/s (higher
 * is better) and p99 (lower is better). Returns them.
 */
export function compare(row, yardstick) {
  row.yardstick_of_row = yardstick.scenario;
  const rps = (r) => r.exact_requests_per_s ?? r.requests_per_s;
  row.x_rps = ratio(rps(row), rps(yardstick));
  row.x_p99 = ratio(row.p99_ms, Math.max(yardstick.p99_ms, 1));
  return { x_rps: row.x_rps, x_p99: row.x_p99 };
}

/** A target: the measured value, the bound, and whether it is met (false when not measured). */
export function target(value, op, bound, unit = "") {
  const ok = value != null && (op === ">=" ? value >= bound : value <= bound);
  return { ok, value, target: `${op} ${bound}${unit}` };
}

const fmt = (n) => (n == null ? "" : typeof n === "number" ? n.toLocaleString("en") : String(n));

export function scenarioTable(rows) {
  if (!rows.length) return "";
  const out = [
    "| scenario | conns | req/s | ops/s | p50 ms | p99 ms | × yardstick req/s | × yardstick p99 | yardstick | non-2xx/errors |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
  ];
  for (const s of rows) {
    out.push(
      `| ${s.scenario} | ${fmt(s.connections)} | ${fmt(s.requests_per_s)} | ${fmt(s.operations_per_s)} | ${fmt(s.p50_ms)} | ${fmt(s.p99_ms)} | ${s.yardstick ? "(yardstick)" : fmt(s.x_rps)} | ${s.yardstick ? "" : fmt(s.x_p99)} | ${s.yardstick_of_row ?? ""} | ${fmt(s.non_2xx)}/${fmt(s.errors)} |`,
    );
  }
  return out.join("\n");
}

export function cpuTable(rows) {
  const withCpu = rows.filter((s) => s.cpu);
  if (!withCpu.length) return "";
  return [
    "| scenario | CPU ms per request, all workerd threads | CPU ms per request, busiest thread |",
    "|---|---:|---:|",
    ...withCpu.map((s) => `| ${s.scenario} | ${s.cpu.workerd_ms} | ${s.cpu.busiest_thread_ms} |`),
  ].join("\n");
}

const COST_UNITS = [
  ["worker_requests", "Worker req"],
  ["queue_batches", "queue batches"],
  ["do_requests", "DO req"],
  ["do_rows_read", "DO rows read"],
  ["do_rows_written", "DO rows written"],
  ["do_alarms_set", "DO alarms set"],
  ["queue_messages", "queue msgs"],
  ["d1_queries", "D1 queries"],
  ["d1_rows_read", "D1 rows read"],
  ["d1_rows_written", "D1 rows written"],
  ["r2_class_a", "R2 A"],
  ["r2_class_b", "R2 B"],
];

export function costTable(costs) {
  if (!costs.length) return "";
  const out = [
    `| per 1,000 of | ${COST_UNITS.map(([, label]) => label).join(" | ")} | $ per million |`,
    `|---|${COST_UNITS.map(() => "---:").join("|")}|---:|`,
  ];
  for (const c of costs) {
    out.push(
      `| ${c.cost} (${c.unit}; ${fmt(c.operations)} metered${c.settled ? "" : ", queues not drained"}) | ${COST_UNITS.map(([k]) => fmt(c.per_1000[k] ?? 0)).join(" | ")} | ${c.dollars_per_million.toFixed(2)} |`,
    );
  }
  const others = [...new Set(costs.flatMap((c) => Object.keys(c.per_1000)))].filter(
    (k) => !COST_UNITS.some(([u]) => u === k),
  );
  if (others.length) out.push(`\nOther counters (see results.json): ${others.join(", ")}.`);
  out.push(
    `\nPrices (Workers Paid list prices read ${PRICES_READ_ON}, beyond included usage; CPU time not metered): ${Object.entries(
      PRICE_NOTES,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join("; ")}.`,
  );
  return out.join("\n");
}

export function figureTable(figures) {
  if (!figures.length) return "";
  const out = ["| figure | result |", "|---|---|"];
  for (const f of figures) {
    const { figure, ...rest } = f;
    const text = Object.entries(rest)
      .map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : fmt(v)}`)
      .join(", ");
    out.push(`| ${figure} | ${text} |`);
  }
  return out.join("\n");
}

/** `targets: name=✓ (value, target …) …` on one line. */
export function targetsLine(targets) {
  const parts = Object.entries(targets).map(([name, t]) => {
    if (typeof t === "boolean") return `${name}=${t ? "met" : "NOT met"}`;
    return `${name}=${t.ok ? "met" : "NOT met"} (${t.value ?? "not measured"}; ${t.target})`;
  });
  return `targets: ${parts.join(" | ")}`;
}

#!/usr/bin/env node
// Runs SQL in an in-memory DuckDB and prints each result row as one JSON object per line, so
// tests can check our Parquet files with an independent reader.
//
//   node tests/node/duckdb_query.mjs "SELECT * FROM read_parquet('x.parquet')"
//   node tests/node/duckdb_query.mjs "SQL 1" "SQL 2" ...
//
// One argument may hold several statements: the last one's rows are printed. With several
// arguments (one DuckDB start for many queries), each one's rows are followed by a line "#end".
//
// Value forms (chosen so a C test can compare exactly):
//   BIGINT, HUGEINT, DECIMAL  a JSON number written with every digit (never rounded through double)
//   DOUBLE, FLOAT             a JSON number that always has a fraction or an exponent (2.0,
//                             1e+21), so it never reads as an integer; NaN and the infinities
//                             as the strings "NaN", "Infinity", "-Infinity"
//   TIMESTAMP*                ISO-8601 UTC text with at least milliseconds: 2020-01-01T08:09:10.001Z
//                             (microseconds or nanoseconds appear only when not zero)
//   DATE                      "YYYY-MM-DD"
//   BLOB                      lowercase hex text
//   LIST, ARRAY               a JSON array; STRUCT a JSON object (fields in order)
//   MAP                       a JSON array of {"key": ..., "value": ...} (keep order and any key type)
// Exit status: 0 on success, 1 on a SQL error (message on stderr), 2 on bad usage.
import { DuckDBInstance } from '@duckdb/node-api';
import * as values from '@duckdb/node-api';

const pad = (n, w) => String(n).padStart(w, '0');

// Days since 1970-01-01 to a civil date (proleptic Gregorian), exact for any integer day.
function civilFromDays(days) {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y < 0 ? '-' : ''}${pad(Math.abs(y), 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

// A count of `unitsPerSecond` units since the epoch (bigint) to ISO-8601 UTC text.
function isoFromUnits(units, unitsPerSecond) {
  const perDay = 86400n * unitsPerSecond;
  let days = units / perDay;
  let rem = units % perDay;
  if (rem < 0n) { rem += perDay; days -= 1n; }
  const secs = rem / unitsPerSecond;
  const frac = rem % unitsPerSecond;
  const h = secs / 3600n, mi = (secs / 60n) % 60n, s = secs % 60n;
  const digits = String(unitsPerSecond).length - 1;
  let fracText = digits > 0 ? pad(frac, digits) : '';
  while (fracText.length > 3 && fracText.endsWith('000')) fracText = fracText.slice(0, -3);
  if (fracText.length < 3) fracText = fracText.padEnd(3, '0');
  return `${civilFromDays(Number(days))}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${fracText}Z`;
}

function finiteOr(v, text) { return v.isFinite ? text() : JSON.stringify(v.toString()); }

const isFloatType = (t) => t && (t.typeId === values.DuckDBTypeId.DOUBLE || t.typeId === values.DuckDBTypeId.FLOAT);

// Returns the JSON text of one DuckDB value; `type` (a DuckDBType) guides nested values.
function toJson(v, type) {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'bigint': return v.toString();
    case 'string': return JSON.stringify(v);
    case 'number': {
      if (Number.isNaN(v)) return '"NaN"';
      if (!Number.isFinite(v)) return v > 0 ? '"Infinity"' : '"-Infinity"';
      const text = JSON.stringify(v);
      return isFloatType(type) && !/[.e]/.test(text) ? `${text}.0` : text;
    }
    default: break;
  }
  if (v instanceof values.DuckDBDecimalValue) return v.toString();
  if (v instanceof values.DuckDBBlobValue) return JSON.stringify(Buffer.from(v.bytes).toString('hex'));
  if (v instanceof values.DuckDBDateValue) return finiteOr(v, () => JSON.stringify(civilFromDays(v.days)));
  if (v instanceof values.DuckDBTimestampValue || v instanceof values.DuckDBTimestampTZValue)
    return finiteOr(v, () => JSON.stringify(isoFromUnits(v.micros, 1000000n)));
  if (v instanceof values.DuckDBTimestampMillisecondsValue)
    return finiteOr(v, () => JSON.stringify(isoFromUnits(v.millis, 1000n)));
  if (v instanceof values.DuckDBTimestampNanosecondsValue)
    return finiteOr(v, () => JSON.stringify(isoFromUnits(v.nanos, 1000000000n)));
  if (v instanceof values.DuckDBTimestampSecondsValue)
    return finiteOr(v, () => JSON.stringify(isoFromUnits(v.seconds, 1n)));
  if (v instanceof values.DuckDBListValue || v instanceof values.DuckDBArrayValue)
    return `[${v.items.map((x) => toJson(x, type?.valueType)).join(',')}]`;
  if (v instanceof values.DuckDBStructValue)
    return `{${Object.entries(v.entries).map(([k, x]) =>
      `${JSON.stringify(k)}:${toJson(x, type?.entryTypes?.[type.entryIndexes[k]])}`).join(',')}}`;
  if (v instanceof values.DuckDBMapValue)
    return `[${v.entries.map((e) =>
      `{"key":${toJson(e.key, type?.keyType)},"value":${toJson(e.value, type?.valueType)}}`).join(',')}]`;
  return JSON.stringify(v.toString());
}

async function main() {
  const sqls = process.argv.slice(2);
  if (sqls.length === 0 || sqls.some((sql) => !sql)) {
    process.stderr.write('usage: duckdb_query.mjs "SQL" ["SQL" ...]\n');
    return 2;
  }
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    for (const sql of sqls) {
      const reader = await connection.runAndReadAll(sql);
      const names = reader.columnNames();
      const types = reader.columnTypes();
      const out = [];
      for (const row of reader.getRows()) {
        out.push(`{${row.map((v, i) => `${JSON.stringify(names[i])}:${toJson(v, types[i])}`).join(',')}}\n`);
      }
      if (sqls.length > 1) out.push('#end\n');
      process.stdout.write(out.join(''));
    }
    return 0;
  } catch (e) {
    process.stderr.write(`duckdb: ${e.message}\n`);
    return 1;
  } finally {
    connection.closeSync();
  }
}

process.exitCode = await main();

// Drives objectstack dev with Turso's own JS client, @libsql/client, the way a Turso user does:
// createClient({ url: "http://<Hostname>" or "libsql://<Hostname>?tls=0", authToken }).
// Run by internal/devserver/jsclient_test.go, which asserts the JSON printed on stdout.
//
//   node client.mjs <url> <value>
//   env OBJECTSTACK_JS_TOKEN      the database token (kept out of argv, which others can read)
//   env OBJECTSTACK_JS_BAD_TOKEN  a token the server must refuse
import { createClient } from "@libsql/client";

const [url, value] = process.argv.slice(2);
const out = {};

const client = createClient({ url, authToken: process.env.OBJECTSTACK_JS_TOKEN });
try {
  await client.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)");
  const ins = await client.execute({ sql: "INSERT INTO t (v) VALUES (?)", args: [value] });
  out.inserted = { rowsAffected: ins.rowsAffected, lastInsertRowid: String(ins.lastInsertRowid) };

  // A batch runs as one transaction (steps chained with conditions).
  await client.batch(
    [
      { sql: "INSERT INTO t (v) VALUES (?)", args: [value + "/batch-1"] },
      { sql: "INSERT INTO t (v) VALUES (?)", args: [value + "/batch-2"] },
    ],
    "write",
  );

  // An interactive transaction spans several HTTP requests on one stream.
  const tx = await client.transaction("write");
  await tx.execute({ sql: "UPDATE t SET v = v || '+tx' WHERE v = ?", args: [value] });
  await tx.commit();

  const sel = await client.execute("SELECT id, v FROM t ORDER BY id");
  out.columns = sel.columns;
  out.rows = sel.rows.map((r) => ({ id: Number(r.id), v: r.v }));
} catch (e) {
  out.error = { code: e.code, message: e.message };
} finally {
  client.close();
}

const bad = createClient({ url, authToken: process.env.OBJECTSTACK_JS_BAD_TOKEN });
try {
  await bad.execute("SELECT 1");
  out.badToken = { refused: false };
} catch (e) {
  out.badToken = { refused: true, code: e.code, message: e.message };
} finally {
  bad.close();
}

console.log(JSON.stringify(out));

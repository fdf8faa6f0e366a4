"""A ClickHouse client the project did not write (clickhouse-connect over HTTP),
run by services/sqlhttp/src/clients.test.ts against the read-only SQL endpoint.
Prints one JSON object with what each step saw; the test asserts on it."""

import json
import os
import sys

import clickhouse_connect


def error_of(call):
    try:
        call()
    except Exception as err:  # noqa: BLE001 - the test reads the message
        return str(err)
    return ""


def main():
    user = os.environ["SQL_USER"]
    client = clickhouse_connect.get_client(
        host=os.environ["SQL_HOST"],
        port=int(os.environ["SQL_PORT"]),
        username=user,
        password=os.environ["SQL_KEY"],
        database=os.environ["SQL_DATABASE"],
        compress="gzip",
    )
    out = {"version": client.server_version}
    # Bound parameters ({name:Type}, sent as param_*); clickhouse-connect reads the rows in Native format.
    result = client.query(
        "SELECT entity, score, reasons FROM anomaly_scores WHERE entity LIKE {pattern:String} ORDER BY entity",
        parameters={"pattern": user + "/agent-%"},
    )
    out["entities"] = [row[0] for row in result.result_rows]
    out["scores"] = [round(float(row[1]), 4) for row in result.result_rows]
    out["reasons"] = [list(row[2]) for row in result.result_rows]
    out["summary_read_rows"] = int(result.summary.get("read_rows", "-1"))
    # Without a WHERE on tenant: only this tenant's rows exist for it.
    count, tenants = client.query("SELECT count(), groupUniqArray(tenant) FROM anomaly_scores").result_rows[0]
    out["count"] = int(count)
    out["tenants"] = sorted(tenants)
    # Arrow and JSON come from the same engine, in the format asked for.
    out["json_rows"] = json.loads(client.raw_query("SELECT count() AS c FROM anomaly_scores", fmt="JSON"))["data"]
    out["insert_error"] = error_of(lambda: client.command("INSERT INTO anomaly_scores (tenant, event_id) VALUES ('globex', 'forged')"))
    out["create_error"] = error_of(lambda: client.command("CREATE TABLE stolen (x UInt8) ENGINE = Memory"))
    out["file_error"] = error_of(
        lambda: out.__setitem__("file_rows", client.query(
            "SELECT line FROM file('%s', 'LineAsString')" % os.environ["SQL_SECRET_FILE"]
        ).result_rows)
    )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

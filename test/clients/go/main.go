// A ClickHouse client the project did not write (clickhouse-go v2 over HTTP),
// run by services/sqlhttp/src/clients.test.ts against the read-only SQL endpoint.
// It prints one JSON object with what each step saw; the test asserts on it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

type result struct {
	Version      string    `json:"version"`
	Entities     []string  `json:"entities"`
	Scores       []float32 `json:"scores"`
	Tenants      []string  `json:"tenants"`
	Count        uint64    `json:"count"`
	InsertError  string    `json:"insert_error"`
	DropError    string    `json:"drop_error"`
	FileError    string    `json:"file_error"`
	OtherDbError string    `json:"other_db_error"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.HTTP,
		Addr:     []string{os.Getenv("SQL_ADDR")},
		Auth: clickhouse.Auth{
			Database: os.Getenv("SQL_DATABASE"),
			Username: os.Getenv("SQL_USER"),
			Password: os.Getenv("SQL_KEY"),
		},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionGZIP},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx := context.Background()
	var out result

	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&out.Version); err != nil {
		return fmt.Errorf("version: %w", err)
	}

	// Bound parameters, sent as param_* and substituted by the server; rows come back in Native format.
	pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
		"pattern": os.Getenv("SQL_USER") + "/agent-%",
		"min":     "0",
	}))
	rows, err := conn.Query(pctx, "SELECT entity, score FROM anomaly_scores WHERE entity LIKE {pattern:String} AND score >= {min:Float32} ORDER BY entity")
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	for rows.Next() {
		var entity string
		var score float32
		if err := rows.Scan(&entity, &score); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		out.Entities = append(out.Entities, entity)
		out.Scores = append(out.Scores, score)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	rows.Close()

	// Without a WHERE on tenant: only this tenant's rows exist for it.
	if err := conn.QueryRow(ctx, "SELECT count(), groupUniqArray(tenant) FROM anomaly_scores").Scan(&out.Count, &out.Tenants); err != nil {
		return fmt.Errorf("count: %w", err)
	}

	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	out.InsertError = errText(conn.Exec(ctx, "INSERT INTO anomaly_scores (tenant, event_id) VALUES ('globex', 'forged')"))
	out.DropError = errText(conn.Exec(ctx, "DROP TABLE anomaly_scores"))
	var line string
	out.FileError = errText(conn.QueryRow(ctx, fmt.Sprintf("SELECT line FROM file('%s', 'LineAsString')", os.Getenv("SQL_SECRET_FILE"))).Scan(&line))
	if line != "" {
		out.FileError = "READ THE FILE: " + line
	}
	var n uint64
	out.OtherDbError = errText(conn.QueryRow(ctx, "SELECT count() FROM system.processes").Scan(&n))

	return json.NewEncoder(os.Stdout).Encode(out)
}

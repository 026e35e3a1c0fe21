package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// copyTables are copied from one store to another, parents first, ids kept. Environment locks are not: a
// SQLite store's locks belong to its one process, which is stopped before its data moves. Replica
// heartbeats and River's jobs are not either: runs that had not finished get their jobs again from the
// new database's dispatcher.
var copyTables = []struct{ name, serial string }{
	{"runs", "id"}, {"run_keys", ""}, {"stages", "id"}, {"stage_attempts", "id"}, {"stage_logs", "id"}, {"lock_history", "id"},
	{"deployments", "id"}, {"approvals", "id"}, {"policy_overrides", "id"}, {"saved_plans", ""},
}

// CopyReport says how many rows of each table a copy moved, in copyTables' order.
type CopyReport struct {
	Tables []string
	Rows   []int
	// Resumed are the runs that had not finished: the destination's dispatcher gives them jobs.
	Resumed int
}

// ErrNotEmpty refuses a copy into a store that already holds runs.
var ErrNotEmpty = errors.New("the destination store already holds runs")

// CopyFrom copies every run, stage, stage attempt, log line, lock history, deployment, approval, override and
// sealed saved plan of src into s, which must be empty, in one transaction of s: all of it or nothing. Unfinished runs are marked for
// dispatch, so that a runner on s resumes them.
func (s *Store) CopyFrom(ctx context.Context, src *Store) (CopyReport, error) {
	var rep CopyReport
	if n, err := s.CountRuns(ctx); err != nil {
		return rep, err
	} else if n > 0 {
		return rep, fmt.Errorf("copy: %w (%d)", ErrNotEmpty, n)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("copy: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	for _, t := range copyTables {
		n, err := copyTable(ctx, src, tx, t.name)
		if err != nil {
			return rep, fmt.Errorf("copy %s: %w", t.name, err)
		}
		rep.Tables, rep.Rows = append(rep.Tables, t.name), append(rep.Rows, n)
		if t.serial != "" && s.db.d == dialectPostgres && n > 0 {
			// The copied ids are kept: new rows must come after them.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), (SELECT MAX(%s) FROM %s))`,
				t.name, t.serial, t.serial, t.name)); err != nil {
				return rep, fmt.Errorf("copy %s: sequence: %w", t.name, err)
			}
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE runs SET enqueued = 0 WHERE status IN (?, ?)`, StatusQueued, StatusRunning)
	if err != nil {
		return rep, fmt.Errorf("copy: mark unfinished runs: %w", err)
	}
	n, _ := res.RowsAffected()
	rep.Resumed = int(n)
	if err := tx.Commit(); err != nil {
		return rep, fmt.Errorf("copy: %w", err)
	}
	return rep, nil
}

// copyTable moves every row of one table, column by column as the source names them.
func copyTable(ctx context.Context, src *Store, tx txn, table string) (int, error) {
	rows, err := src.db.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	insert := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(cols, ", "),
		strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", "))
	n := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok { // text as the destination's driver takes it
				vals[i] = string(b)
			}
		}
		if _, err := tx.ExecContext(ctx, insert, vals...); err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	return n, rows.Err()
}

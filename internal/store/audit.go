package store

import (
	"context"
	"strings"
)

const auditCols = "id, at, user_id, action, object_type, object_id, summary"

func scanAudit(s scanner) (AuditEntry, error) {
	var e AuditEntry
	err := s.Scan(&e.ID, tsp(&e.At), &e.UserID, &e.Action, &e.ObjectType, &e.ObjectID, &e.Summary)
	return e, err
}

func (q *queries) ListAudit(ctx context.Context, f AuditFilter, opts ListOptions) (Page[AuditEntry], error) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"user_id", f.UserID}, {"object_type", f.ObjectType}, {"object_id", f.ObjectID}} {
		if c.v != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	from := "FROM audit_entries"
	if len(conds) > 0 {
		from += " WHERE " + strings.Join(conds, " AND ")
	}
	l := listing{kind: "audit entry", cols: auditCols, from: from, order: "ORDER BY id DESC"}
	return page(ctx, q, l, scanAudit, opts, args...)
}

// AppendAudit writes in the caller's transaction, so an entry exists
// exactly when the change it records committed.
func (t *tx) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if err := firstErr(required("audit entry", "action", e.Action), required("audit entry", "object type", e.ObjectType)); err != nil {
		return AuditEntry{}, err
	}
	e.At = norm(e.At)
	if e.At.IsZero() {
		e.At = now()
	}
	id, err := one(ctx, &t.queries, scanInt64,
		"INSERT INTO audit_entries (at, user_id, action, object_type, object_id, summary) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		ts(e.At), e.UserID, e.Action, e.ObjectType, e.ObjectID, e.Summary)
	if err != nil {
		return AuditEntry{}, opErr("audit entry", e.Action+" "+e.ObjectType, err)
	}
	e.ID = id
	return e, nil
}

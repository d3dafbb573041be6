package store

import "context"

const orgCols = "id, name, title, summary, owner_id, created_at, updated_at"

func scanOrg(s scanner) (ProviderOrg, error) {
	var o ProviderOrg
	err := s.Scan(&o.ID, &o.Name, &o.Title, &o.Summary, &o.OwnerID, tsp(&o.CreatedAt), tsp(&o.UpdatedAt))
	return o, err
}

func checkOrg(o ProviderOrg) error {
	return firstErr(checkName("provider org", "name", o.Name), required("provider org", "owner ID", o.OwnerID))
}

func orgSubject(o ProviderOrg) subject {
	return subject{kind: "provider org", key: o.Name, parent: "owner user " + o.OwnerID,
		taken: map[string]string{"": "a provider org with this name exists; choose another name"}}
}

func (q *queries) GetProviderOrg(ctx context.Context, id string) (ProviderOrg, error) {
	return get(ctx, q, "provider org", id, scanOrg, "SELECT "+orgCols+" FROM provider_orgs WHERE id = ?", id)
}

func (q *queries) GetProviderOrgByName(ctx context.Context, name string) (ProviderOrg, error) {
	return get(ctx, q, "provider org", "named "+name, scanOrg, "SELECT "+orgCols+" FROM provider_orgs WHERE name = ?", name)
}

func (q *queries) ListProviderOrgs(ctx context.Context, opts ListOptions) (Page[ProviderOrg], error) {
	l := listing{kind: "provider org", cols: orgCols, from: "FROM provider_orgs", order: "ORDER BY name"}
	return page(ctx, q, l, scanOrg, opts)
}

func (t *tx) CreateProviderOrg(ctx context.Context, o ProviderOrg) (ProviderOrg, error) {
	if err := checkOrg(o); err != nil {
		return ProviderOrg{}, err
	}
	o.ID, o.CreatedAt = newID(), now()
	o.UpdatedAt = o.CreatedAt
	_, err := t.exec(ctx, "INSERT INTO provider_orgs ("+orgCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		o.ID, o.Name, o.Title, o.Summary, o.OwnerID, ts(o.CreatedAt), ts(o.UpdatedAt))
	return o, orgSubject(o).writeErr(t.eng, err)
}

func (t *tx) UpdateProviderOrg(ctx context.Context, o ProviderOrg) (ProviderOrg, error) {
	if err := checkOrg(o); err != nil {
		return ProviderOrg{}, err
	}
	return update(ctx, t, orgSubject(o), o.ID, scanOrg,
		"UPDATE provider_orgs SET name = ?, title = ?, summary = ?, owner_id = ?, updated_at = ? WHERE id = ? RETURNING "+orgCols,
		o.Name, o.Title, o.Summary, o.OwnerID, ts(now()), o.ID)
}

func (t *tx) DeleteProviderOrg(ctx context.Context, id string) error {
	err := t.refuseChildren(ctx, "provider org", id,
		childCheck{"SELECT COUNT(*) FROM catalogs WHERE org_id = ?", "catalogs", "delete them first (sandbox included)"},
		childCheck{"SELECT COUNT(*) FROM gateway_services WHERE org_id = ?", "gateway services", "delete them first"})
	if err != nil {
		return err
	}
	return t.deleteByID(ctx, "provider org", "provider_orgs", id)
}

const memberCols = "org_id, user_id, role, created_at, updated_at"

func scanMember(s scanner) (Membership, error) {
	var m Membership
	err := s.Scan(&m.OrgID, &m.UserID, &m.Role, tsp(&m.CreatedAt), tsp(&m.UpdatedAt))
	return m, err
}

func (q *queries) GetMembership(ctx context.Context, orgID, userID string) (Membership, error) {
	return get(ctx, q, "membership", "of user "+userID+" in org "+orgID, scanMember,
		"SELECT "+memberCols+" FROM org_members WHERE org_id = ? AND user_id = ?", orgID, userID)
}

func (q *queries) ListOrgMembers(ctx context.Context, orgID string, opts ListOptions) (Page[Membership], error) {
	l := listing{kind: "membership", cols: memberCols, from: "FROM org_members WHERE org_id = ?", order: "ORDER BY user_id"}
	return page(ctx, q, l, scanMember, opts, orgID)
}

func (q *queries) ListUserMemberships(ctx context.Context, userID string, opts ListOptions) (Page[Membership], error) {
	l := listing{kind: "membership", cols: memberCols, from: "FROM org_members WHERE user_id = ?", order: "ORDER BY org_id"}
	return page(ctx, q, l, scanMember, opts, userID)
}

func (t *tx) SetMembership(ctx context.Context, m Membership) (Membership, error) {
	err := firstErr(required("membership", "org ID", m.OrgID), required("membership", "user ID", m.UserID),
		required("membership", "role", m.Role))
	if err != nil {
		return Membership{}, err
	}
	at := now()
	out, err := one(ctx, &t.queries, scanMember, "INSERT INTO org_members ("+memberCols+") VALUES (?, ?, ?, ?, ?) "+
		"ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at RETURNING "+memberCols,
		m.OrgID, m.UserID, m.Role, ts(at), ts(at))
	sub := subject{kind: "membership", key: m.UserID, parent: "provider org " + m.OrgID + " or user " + m.UserID}
	return out, sub.writeErr(t.eng, err)
}

func (t *tx) DeleteMembership(ctx context.Context, orgID, userID string) error {
	return t.updateOne(ctx, "membership", "of user "+userID+" in org "+orgID,
		"DELETE FROM org_members WHERE org_id = ? AND user_id = ?", orgID, userID)
}

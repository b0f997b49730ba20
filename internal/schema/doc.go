// Package schema is the engine that turns object definitions into SQLite/libSQL DDL for one tenant
// database: the desired schema of one owner, introspection of a live database, the diff between them,
// the ordered migration plan (native ALTER where SQLite allows it, table rebuilds where it does not),
// the transactional apply together with the registry tables (_objectstack_*), the migration lease and
// rollback of a deployment. It is the only package that builds schema SQL.
//
// Decisions worth knowing when calling it:
//
//   - Owners. A plan covers exactly the objects of one owner ("bundle:<name>" / "app:<name>"): objects
//     it registered before, plus tables it declares that nobody owns yet (adopted). Declaring an object
//     or table another owner holds is an object_conflict (*ConflictError). Unmanaged tables are never
//     touched unless adopted; Detach releases an owner's objects without dropping their tables.
//   - Migrated equals fresh. Applying A then B yields the schema applying B to an empty database
//     yields, compared column-order-insensitively (SQLite can only reorder columns by rebuilding, and a
//     declarative tool should not copy a table to move a column). A plan right after apply is empty.
//   - Types follow protocol §3 "Rec.": TEXT, REAL, INTEGER (0/1), no column for formula, TEXT JSON for
//     multiple values and vectors. required → NOT NULL, unique → uq_<table>_<col> unique index,
//     index/indexes[] → idx_<table>_<cols> (or the declared name), defaultValue → a constant literal
//     (strings always quoted), lookup/master_detail → REFERENCES "t"("id") ON DELETE … only when the
//     target table exists after the migration. maxLength/min/max/precision are not CHECK constraints
//     (validation rules, and changing a CHECK means rebuilding the table); they are diffed as metadata.
//   - Destructive kinds (drop_table, drop_column, lossy_type_change, drop_constraint) are refused by Apply unless allowed;
//     widening to TEXT and INTEGER→REAL are lossless. A required field added to an existing table needs
//     a defaultValue (*PlanError). Making an existing column required copies COALESCE(col, default).
//   - Round trips are the unit of cost (on Turso each is a WAN request). ReadState reads everything plans
//     need — schema, every owner's registry rows, the lease, the values a write re-checks, and callers'
//     own reads — in ONE round trip; plans made from a State do no I/O, and State.After chains the next
//     owner of the same revision onto the schema the previous one leaves. A Batch sends everything one
//     tenant gets from a revision — every owner's DDL, foreign-key check, the registry rows that changed,
//     deployment rows, callers' statements (an app's seeds and registry row) — as ONE transaction in ONE
//     round trip (internal/database: a Hrana batch with steps chained on success, or one transaction on
//     one connection for a file), foreign-key enforcement switched off before BEGIN. Its first steps fail
//     when the database moved since the read (schema_version, a registry digest, callers' guards:
//     ErrStalePlan) or another holder has the lease (*LockedError); a failing statement comes back as an
//     *ApplyError naming it, or under the caller's label. Apply is a one-plan Batch; an InTx callback
//     (uninstall, detach) still runs the older multi-request transaction.
//   - Pre-flight (Preflight). Steps that only succeed — or only keep every value — if the rows already there
//     allow it (a new or widened unique index, a column becoming required without a default, a new
//     reference, a lossy type change; callers add their own, e.g. an app's insert-mode seeds) record one
//     bounded query each while planning; Preflight runs a tenant's in ONE more read, and none when there are
//     none. A predicted failure is a *PreflightError; a type change the data shows lossless stops being a
//     lossy_type_change and the batch re-checks it inside its transaction before the rebuild.
//   - Rollback restores the object set recorded before a deployment by planning and applying it (data
//     preserving; destructive kinds still need allowing). Deployments of an owner form an undo stack:
//     later deployments must be rolled back first.
package schema

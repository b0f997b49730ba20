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
//   - Destructive kinds (drop_table, drop_column, lossy_type_change) are refused by Apply unless allowed;
//     widening to TEXT and INTEGER→REAL are lossless. A required field added to an existing table needs
//     a defaultValue (*PlanError). Making an existing column required copies COALESCE(col, default).
//   - Apply runs everything in one transaction on one connection with foreign-key enforcement off
//     (set before BEGIN), re-checks that the database still matches the plan (ErrStalePlan), verifies
//     touched tables with foreign_key_check, writes the registry and the deployment record, runs InTx,
//     and commits — or rolls back and reports the failing statement (*ApplyError). It uses only plain
//     SQL over database/sql, so it works the same over Hrana (libsql-client-go http URLs).
//   - Rollback restores the object set recorded before a deployment by planning and applying it (data
//     preserving; destructive kinds still need allowing). Deployments of an owner form an undo stack:
//     later deployments must be rolled back first.
package schema

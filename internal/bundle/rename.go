package bundle

import "strings"

// CodeInvalidRename marks a renamedFrom the engine cannot carry out: it names the object or field itself, a name
// the same bundle still declares (a swap or a chain, which a tenant could apply in more than one way), a system
// column, or a field without a column.
const CodeInvalidRename = "invalid_rename"

// renames checks every renamedFrom of objs once the objects' names are known (objects' first pass), so that an
// object renamed from a name another file still declares is caught whatever the file order.
func (v *validator) renames(objs []Object) {
	objectFrom := map[string]string{} // old object name → object renamed from it
	for i := range objs {
		o := &objs[i]
		a := objectAt{v: v, o: o, path: v.objPaths[o]}
		if o.RenamedFrom != "" {
			v.objectRename(a, objectFrom)
		}
		fieldFrom := map[string]string{} // old field key → field renamed from it
		for j := range o.Fields {
			if o.Fields[j].RenamedFrom != "" {
				v.fieldRename(a, &o.Fields[j], fieldFrom)
			}
		}
	}
}

func (v *validator) objectRename(a objectAt, from map[string]string) {
	o := a.o
	old := o.RenamedFrom
	switch {
	case !identifier(a, "renamedFrom", "renamedFrom", old):
	case old == o.Name:
		a.errorf(CodeInvalidRename, "renamedFrom", "object %s is renamedFrom itself; remove renamedFrom", o.Name)
	case o.Abstract:
		a.errorf(CodeInvalidRename, "renamedFrom", "object %s is abstract and has no table to rename; remove renamedFrom", o.Name)
	case v.byName[old] != nil:
		other := v.byName[old]
		a.errorf(CodeInvalidRename, "renamedFrom", "object %s is renamedFrom %s, but the bundle still declares object %s%s; swapping or chaining names in one deployment is not supported — rename in two deployments",
			o.Name, old, old, where(other.Source, lookupLine(other.Lines, "name")))
	case from[old] != "":
		a.errorf(CodeInvalidRename, "renamedFrom", "objects %s and %s are both renamedFrom %s; only one can keep its table", from[old], o.Name, old)
	default:
		from[old] = o.Name
	}
}

func (v *validator) fieldRename(a objectAt, f *Field, from map[string]string) {
	rel := joinKey("fields", f.Key) + ".renamedFrom"
	old := f.RenamedFrom
	if !IsIdentifier(old) {
		a.errorf(CodeInvalidIdentifier, rel, "renamedFrom %q must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits, underscores)", truncate(old, 80))
		return
	}
	switch {
	case old == f.Key:
		a.errorf(CodeInvalidRename, rel, "field %s is renamedFrom itself; remove renamedFrom", f.Key)
	case IsSystemColumn(old) || IsSystemColumn(f.Column()):
		a.errorf(CodeInvalidRename, rel, "field %s is renamedFrom %s: system columns (%s) cannot be renamed", f.Key, old, strings.Join(SystemColumns, ", "))
	case !hasColumn(f.Type):
		a.errorf(CodeInvalidRename, rel, "field %s is a %s field and has no column to rename; remove renamedFrom", f.Key, f.Type)
	case from[old] != "":
		a.errorf(CodeInvalidRename, rel, "fields %s and %s are both renamedFrom %s; only one can keep its column", from[old], f.Key, old)
	default:
		if other, ok := v.fieldOf(a.o, old); ok {
			a.errorf(CodeInvalidRename, rel, "field %s is renamedFrom %s, but object %s still declares field %s%s; swapping or chaining names in one deployment is not supported — rename in two deployments",
				f.Key, old, a.o.Name, other.Key, where(a.o.Source, lookupLine(a.o.Lines, joinKey("fields", other.Key))))
			return
		}
		for i := range a.o.Fields {
			if g := &a.o.Fields[i]; g != f && g.ColumnName == old && hasColumn(g.Type) {
				a.errorf(CodeInvalidRename, rel, "field %s is renamedFrom %s, but field %s still uses column %s; swapping column names in one deployment is not supported",
					f.Key, old, g.Key, old)
				return
			}
		}
		from[old] = f.Key
	}
}

package bundle

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/semver"
)

// Context carries what validation cannot see in the bundle itself.
type Context struct {
	// KnownObjects are objects owned elsewhere (another bundle, an installed app, the platform) that lookups,
	// summaries and datasets may reference. Their fields are unknown, so references into them are not checked
	// beyond the object name.
	KnownObjects []string
}

// Enumerations checked by validation (protocol §3).
var (
	DeleteBehaviors = []string{"set_null", "cascade", "restrict"}
	IndexTypes      = []string{"btree", "hash", "gin", "gist", "fulltext"}
	SeedModes       = []string{"insert", "update", "upsert", "replace", "ignore"}
	SeedEnvs        = []string{"prod", "dev", "test"}
	SummaryFuncs    = []string{"count", "sum", "min", "max", "avg"}
	DistanceMetrics = []string{"cosine", "euclidean", "dotProduct", "manhattan"}
	CurrencyModes   = []string{"dynamic", "fixed"}
)

// MaxVectorDimensions is the protocol's upper bound for vectorConfig.dimensions.
const MaxVectorDimensions = 10000

// Validate checks a bundle against every rule of the format: manifest, identifiers, reserved names, duplicates,
// field types, references, defaults, indexes, seed data and the declared checksum.
func Validate(b *Bundle) ValidationResult { return ValidateWith(b, Context{}) }

// ValidateWith is Validate with objects owned elsewhere that references may point at.
func ValidateWith(b *Bundle, ctx Context) ValidationResult {
	v := newValidator(ctx)
	v.objects(b.Objects)
	v.datasets(b.SeedData)
	v.manifest(b)
	return Result(v.out.all())
}

// ValidateParts checks the objects and seed data of a bundle or app folder (everything but a manifest).
func ValidateParts(p *Parts, ctx Context) ValidationResult {
	v := newValidator(ctx)
	v.objects(p.Objects)
	v.datasets(p.SeedData)
	return Result(v.out.all())
}

// ValidateObjects checks a set of objects that will be deployed together.
func ValidateObjects(objs []Object, ctx Context) ValidationResult {
	v := newValidator(ctx)
	v.objects(objs)
	return Result(v.out.all())
}

type validator struct {
	out      issues
	known    map[string]bool
	byName   map[string]*Object
	objPaths map[*Object]string
	fields   map[*Object]map[string]*Field
}

// fieldOf looks a field up by key through a per-object map, so large objects do not make validation quadratic.
func (v *validator) fieldOf(o *Object, key string) (*Field, bool) {
	m, ok := v.fields[o]
	if !ok {
		m = make(map[string]*Field, len(o.Fields))
		for i := range o.Fields {
			if _, dup := m[o.Fields[i].Key]; !dup {
				m[o.Fields[i].Key] = &o.Fields[i]
			}
		}
		v.fields[o] = m
	}
	f, ok := m[key]
	return f, ok
}

func newValidator(ctx Context) *validator {
	v := &validator{known: map[string]bool{}, byName: map[string]*Object{}, objPaths: map[*Object]string{}, fields: map[*Object]map[string]*Field{}}
	for _, k := range ctx.KnownObjects {
		v.known[k] = true
	}
	return v
}

// objectAt reports issues inside object o, at paths relative to it.
type objectAt struct {
	v    *validator
	o    *Object
	path string
}

func (a objectAt) full(rel string) string {
	switch {
	case rel == "":
		return a.path
	case rel[0] == '[':
		return a.path + rel
	}
	return a.path + "." + rel
}

func (a objectAt) errorf(code, rel, format string, args ...any) {
	a.v.out.errorf(code, a.full(rel), a.o.Source, lookupLine(a.o.Lines, rel), format, args...)
}

func (a objectAt) warnf(code, rel, format string, args ...any) {
	a.v.out.warnf(code, a.full(rel), a.o.Source, lookupLine(a.o.Lines, rel), format, args...)
}

func where(file string, line int) string {
	switch {
	case file == "":
		return ""
	case line > 0:
		return fmt.Sprintf(" (%s:%d)", file, line)
	}
	return " (" + file + ")"
}

// identifier checks a name used as an SQL identifier and reports whether it passed.
func identifier(a objectAt, rel, what, name string) bool {
	switch {
	case name == "":
		a.errorf(CodeMissingRequired, rel, "%s is empty", what)
		return false
	case !IsIdentifier(name):
		a.errorf(CodeInvalidIdentifier, rel, "%s %q must match ^[a-z_][a-z0-9_]*$ (lower-case letters, digits, underscores)", what, truncate(name, 80))
		return false
	case len(name) > MaxIdentifierLength:
		a.errorf(CodeInvalidIdentifier, rel, "%s %q is longer than %d characters", what, truncate(name, 80), MaxIdentifierLength)
		return false
	}
	if r := reservedReason(name); r != "" {
		a.errorf(CodeReservedName, rel, "%s %q %s", what, name, r)
		return false
	}
	return true
}

func (v *validator) objects(objs []Object) {
	tables := map[string]*Object{}
	// First pass: names, so references can be resolved regardless of file order.
	for i := range objs {
		o := &objs[i]
		a := objectAt{v: v, o: o, path: objectPath(o.Name, i)}
		v.objPaths[o] = a.path
		if !identifier(a, "name", "object name", o.Name) {
			continue
		}
		if prev, dup := v.byName[o.Name]; dup {
			a.errorf(CodeDuplicateName, "name", "object %s is defined twice; first definition%s", o.Name, where(prev.Source, lookupLine(prev.Lines, "name")))
			continue
		}
		v.byName[o.Name] = o
		if t := o.Table(); t != o.Name {
			if !IsIdentifier(t) {
				a.errorf(CodeInvalidIdentifier, "name", "object %s maps to table %q, which is not a valid identifier", o.Name, t)
				continue
			}
			if r := reservedReason(t); r != "" {
				a.errorf(CodeReservedName, "name", "object %s maps to table %q, which %s", o.Name, t, r)
				continue
			}
		}
		if prev, dup := tables[o.Table()]; dup && !o.Abstract && !prev.Abstract {
			a.errorf(CodeDuplicateName, "name", "objects %s and %s both map to table %q", prev.Name, o.Name, o.Table())
			continue
		}
		if !o.Abstract {
			tables[o.Table()] = o
		}
	}
	indexNames := map[string]string{} // index name → object path that declared it
	for i := range objs {
		o := &objs[i]
		a := objectAt{v: v, o: o, path: v.objPaths[o]}
		v.object(a, tables, indexNames)
	}
	v.renames(objs)
}

func (v *validator) object(a objectAt, tables map[string]*Object, indexNames map[string]string) {
	o := a.o
	if o.SoftDelete != nil && o.SoftDelete.Field != "" {
		identifier(a, "softDelete.field", "soft-delete field", o.SoftDelete.Field)
	}
	columns := map[string]string{} // column → field key
	for i := range o.Fields {
		v.field(a, &o.Fields[i], columns)
		// SQLite refuses a CREATE TABLE (or a rebuild) with more than SQLITE_MAX_COLUMN columns, system columns
		// included, and only at apply time with the whole statement in the error. Name the first field that
		// does not fit, once, where the author can remove it.
		if len(columns)+len(SystemColumns) == MaxColumns+1 && !o.Abstract {
			f := &o.Fields[i]
			a.errorf(CodeTooManyColumns, joinKey("fields", f.Key),
				"object %s needs more than %d columns (its declared fields from %s on, plus the system columns %s); SQLite allows at most %d columns in one table — split the object or make fields formulas",
				o.Name, MaxColumns, f.Key, strings.Join(SystemColumns, ", "), MaxColumns)
		}
	}
	for i := range o.Indexes {
		v.index(a, i, &o.Indexes[i], tables, indexNames)
	}
}

// systemCompatible lists the field types a re-declared system column may have without conflicting with it.
var systemCompatible = map[string][]FieldType{
	"id":         {TypeText},
	"created_at": {TypeDatetime, TypeText},
	"updated_at": {TypeDatetime, TypeText},
}

func isChoice(t FieldType) bool {
	switch t {
	case TypeSelect, TypeMultiselect, TypeRadio, TypeCheckboxes:
		return true
	}
	return false
}

func isReference(t FieldType) bool { return t == TypeLookup || t == TypeMasterDetail }

// hasColumn reports whether a field of type t is stored in a column (formula is computed on read).
func hasColumn(t FieldType) bool { return t != TypeFormula }

var fieldTypeNames = func() []string {
	out := make([]string, len(AllFieldTypes))
	for i, t := range AllFieldTypes {
		out[i] = string(t)
	}
	return out
}()

func (v *validator) field(a objectAt, f *Field, columns map[string]string) {
	rel := joinKey("fields", f.Key)
	if !identifier(a, rel, "field key", f.Key) {
		return
	}
	if f.Name != "" && !IsIdentifier(f.Name) {
		a.errorf(CodeInvalidIdentifier, rel+".name", "field name %q must match ^[a-z_][a-z0-9_]*$", truncate(f.Name, 80))
	}
	if f.ColumnName != "" && !identifier(a, rel+".columnName", "column name", f.ColumnName) {
		return
	}
	switch {
	case f.Type == "":
		a.errorf(CodeMissingRequired, rel+".type", "field %s has no type", f.Key)
		return
	case !f.Type.Valid():
		a.errorf(CodeUnknownFieldType, rel+".type", "unknown field type %q%s; see the 44 protocol types", truncate(string(f.Type), 40), didYouMean(string(f.Type), fieldTypeNames))
		return
	}
	col := f.Column()
	if IsSystemColumn(col) {
		if contains(fieldTypeStrings(systemCompatible[col]), string(f.Type)) {
			a.warnf(CodeSystemField, rel, "%s is a system column the engine always creates; this declaration is ignored", col)
		} else {
			a.errorf(CodeSystemConflict, rel+".type", "%s is a system column (%s); it cannot be declared as %s", col, systemColumnType(col), f.Type)
		}
		return
	}
	if hasColumn(f.Type) {
		if prev, dup := columns[col]; dup {
			a.errorf(CodeDuplicateName, rel, "fields %s and %s both map to column %q", prev, f.Key, col)
		} else {
			columns[col] = f.Key
		}
	}

	v.fieldConstraints(a, rel, f)
	v.fieldType(a, rel, f)
	if f.DefaultValue != nil {
		if msg := defaultProblem(f); msg != "" {
			a.errorf(CodeInvalidDefault, rel+".defaultValue", "%s", msg)
		} else if s, ok := f.DefaultValue.(string); ok && strings.ContainsRune(s, 0) {
			// A string default becomes a quoted SQL literal in the column definition, and an SQL literal
			// cannot carry a NUL byte (SQLite ends the text there); the engine would refuse it at plan time.
			a.errorf(CodeInvalidDefault, rel+".defaultValue", "defaultValue contains a NUL byte (at character %d); a column default cannot hold one",
				utf8.RuneCountInString(s[:strings.IndexByte(s, 0)])+1)
		}
	}
}

func fieldTypeStrings(ts []FieldType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

func systemColumnType(col string) string {
	if col == "id" {
		return "TEXT PRIMARY KEY"
	}
	return "a datetime"
}

func (v *validator) fieldConstraints(a objectAt, rel string, f *Field) {
	if f.MaxLength != nil && *f.MaxLength < 0 {
		a.errorf(CodeInvalidValue, rel+".maxLength", "maxLength must be ≥ 0, got %d", *f.MaxLength)
	}
	if f.MinLength != nil && *f.MinLength < 0 {
		a.errorf(CodeInvalidValue, rel+".minLength", "minLength must be ≥ 0, got %d", *f.MinLength)
	}
	if f.MinLength != nil && f.MaxLength != nil && *f.MinLength > *f.MaxLength {
		a.errorf(CodeInvalidValue, rel+".minLength", "minLength %d is greater than maxLength %d", *f.MinLength, *f.MaxLength)
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		a.errorf(CodeInvalidValue, rel+".min", "min %g is greater than max %g", *f.Min, *f.Max)
	}
	if f.Precision != nil && (*f.Precision < 0 || *f.Precision > 38) {
		a.errorf(CodeInvalidValue, rel+".precision", "precision must be between 0 and 38, got %d", *f.Precision)
	}
	if f.Scale != nil {
		if *f.Scale < 0 {
			a.errorf(CodeInvalidValue, rel+".scale", "scale must be ≥ 0, got %d", *f.Scale)
		} else if f.Precision != nil && *f.Scale > *f.Precision {
			a.errorf(CodeInvalidValue, rel+".scale", "scale %d is greater than precision %d", *f.Scale, *f.Precision)
		}
	}
	if f.DeleteBehavior != "" {
		if !contains(DeleteBehaviors, f.DeleteBehavior) {
			a.errorf(CodeInvalidEnum, rel+".deleteBehavior", "deleteBehavior %q must be one of %s", truncate(f.DeleteBehavior, 40), strings.Join(DeleteBehaviors, ", "))
		} else if !isReference(f.Type) {
			a.warnf(CodeIgnoredSetting, rel+".deleteBehavior", "deleteBehavior only applies to lookup and master_detail fields")
		}
	}
	if len(f.Options) > 0 && !isChoice(f.Type) {
		a.warnf(CodeIgnoredSetting, rel+".options", "options only apply to select, multiselect, radio and checkboxes fields")
	}
	if f.Reference != "" && !isReference(f.Type) {
		a.warnf(CodeIgnoredSetting, rel+".reference", "reference only applies to lookup and master_detail fields")
	}
	if f.Type == TypeFormula && (f.Required || f.Unique || f.Index) {
		a.warnf(CodeIgnoredSetting, rel, "formula fields have no column; required, unique and index are ignored")
	}
}

func (v *validator) objectExists(name string) (o *Object, known bool) {
	if o, ok := v.byName[name]; ok {
		return o, true
	}
	return nil, v.known[name]
}

func (v *validator) fieldType(a objectAt, rel string, f *Field) {
	switch {
	case isReference(f.Type):
		switch {
		case f.Reference == "":
			a.errorf(CodeMissingRequired, rel+".reference", "%s field %s needs a reference (the target object's name)", f.Type, f.Key)
		case !IsIdentifier(f.Reference):
			a.errorf(CodeInvalidIdentifier, rel+".reference", "reference %q is not a valid object name", truncate(f.Reference, 80))
		default:
			target, ok := v.objectExists(f.Reference)
			switch {
			case !ok:
				a.errorf(CodeDanglingReference, rel+".reference", "field %s references object %s, which is not in this bundle nor known to the target", f.Key, f.Reference)
			case target != nil && target.Abstract:
				a.errorf(CodeDanglingReference, rel+".reference", "field %s references object %s, which is abstract and has no table", f.Key, f.Reference)
			}
		}
		if f.Required && (f.DeleteBehavior == "" || f.DeleteBehavior == "set_null") {
			a.warnf(CodeIgnoredSetting, rel+".deleteBehavior", "required %s with deleteBehavior set_null (the default): deleting the referenced record will fail; use cascade or restrict", f.Type)
		}
	case f.Type == TypeFormula:
		if strings.TrimSpace(f.Expression) == "" {
			a.errorf(CodeMissingRequired, rel+".expression", "formula field %s needs an expression", f.Key)
		}
	case f.Type == TypeSummary:
		s := f.SummaryOperations
		if s == nil {
			a.errorf(CodeMissingRequired, rel+".summaryOperations", "summary field %s needs summaryOperations { object, field, function }", f.Key)
			break
		}
		if !contains(SummaryFuncs, s.Function) {
			a.errorf(CodeInvalidEnum, rel+".summaryOperations.function", "function %q must be one of %s", truncate(s.Function, 40), strings.Join(SummaryFuncs, ", "))
		}
		target, ok := v.objectExists(s.Object)
		switch {
		case s.Object == "":
			a.errorf(CodeMissingRequired, rel+".summaryOperations.object", "summary field %s needs the object to summarise", f.Key)
		case !ok:
			a.errorf(CodeDanglingReference, rel+".summaryOperations.object", "summary field %s summarises object %s, which exists nowhere", f.Key, truncate(s.Object, 80))
		case s.Field == "" && s.Function != "count":
			a.errorf(CodeMissingRequired, rel+".summaryOperations.field", "summary function %s needs a field", s.Function)
		case s.Field != "" && target != nil:
			if _, ok := v.fieldOf(target, s.Field); !ok && !IsSystemColumn(s.Field) {
				a.errorf(CodeDanglingReference, rel+".summaryOperations.field", "object %s has no field %s", s.Object, truncate(s.Field, 80))
			}
		}
	case f.Type == TypeVector:
		vc := f.VectorConfig
		if vc == nil {
			a.errorf(CodeMissingRequired, rel+".vectorConfig", "vector field %s needs vectorConfig.dimensions (1..%d)", f.Key, MaxVectorDimensions)
			break
		}
		if vc.Dimensions < 1 || vc.Dimensions > MaxVectorDimensions {
			a.errorf(CodeInvalidValue, rel+".vectorConfig.dimensions", "dimensions must be between 1 and %d, got %d", MaxVectorDimensions, vc.Dimensions)
		}
		if vc.DistanceMetric != "" && !contains(DistanceMetrics, vc.DistanceMetric) {
			a.errorf(CodeInvalidEnum, rel+".vectorConfig.distanceMetric", "distanceMetric %q must be one of %s", truncate(vc.DistanceMetric, 40), strings.Join(DistanceMetrics, ", "))
		}
	case isChoice(f.Type):
		v.options(a, rel, f)
	case f.Type == TypeAutonumber:
		if _, ok := f.Extra["format"]; ok && f.AutonumberFormat == "" {
			a.warnf(CodeUnknownKey, rel+".format", "autonumber fields take their pattern from autonumberFormat, not format")
		}
	}
	if c := f.CurrencyConfig; c != nil {
		if c.Precision != nil && (*c.Precision < 0 || *c.Precision > 10) {
			a.errorf(CodeInvalidValue, rel+".currencyConfig.precision", "precision must be between 0 and 10, got %d", *c.Precision)
		}
		if c.CurrencyMode != "" && !contains(CurrencyModes, c.CurrencyMode) {
			a.errorf(CodeInvalidEnum, rel+".currencyConfig.currencyMode", "currencyMode %q must be one of %s", truncate(c.CurrencyMode, 40), strings.Join(CurrencyModes, ", "))
		}
		if c.DefaultCurrency != "" && utf8.RuneCountInString(c.DefaultCurrency) != 3 {
			a.errorf(CodeInvalidValue, rel+".currencyConfig.defaultCurrency", "defaultCurrency must be a 3-letter code, got %q", truncate(c.DefaultCurrency, 40))
		}
	}
}

func (v *validator) options(a objectAt, rel string, f *Field) {
	if len(f.Options) == 0 {
		a.warnf(CodeMissingRequired, rel+".options", "%s field %s has no options", f.Type, f.Key)
		return
	}
	seen := map[string]int{}
	defaults := 0
	for i, o := range f.Options {
		or := joinIndex(rel+".options", i)
		switch {
		case o.Value == "":
			a.errorf(CodeMissingRequired, or+".value", "option has no value")
		case len(o.Value) < 2 || !optionValueRE.MatchString(o.Value):
			a.errorf(CodeInvalidOptionValue, or+".value", "option value %q must match ^[a-z][a-z0-9_.]*$ and be at least 2 characters", truncate(o.Value, 80))
		}
		if prev, dup := seen[o.Value]; dup && o.Value != "" {
			a.errorf(CodeDuplicateName, or+".value", "option value %q repeats options[%d]", o.Value, prev)
		} else {
			seen[o.Value] = i
		}
		if o.Label == "" {
			a.errorf(CodeMissingRequired, or+".label", "option has no label")
		}
		if o.Default {
			defaults++
		}
	}
	if defaults > 1 && (f.Type == TypeSelect || f.Type == TypeRadio) && !f.Multiple {
		a.warnf(CodeInvalidDefault, rel+".options", "%d options are marked default; a %s field holds one value", defaults, f.Type)
	}
}

func (v *validator) index(a objectAt, i int, ix *Index, tables map[string]*Object, names map[string]string) {
	rel := joinIndex("indexes", i)
	o := a.o
	if ix.Name != "" && identifier(a, rel+".name", "index name", ix.Name) {
		if prev, dup := names[ix.Name]; dup {
			a.errorf(CodeDuplicateName, rel+".name", "index name %s is already used by %s (index names are unique per database)", ix.Name, prev)
		} else if t, clash := tables[ix.Name]; clash {
			a.errorf(CodeDuplicateName, rel+".name", "index name %s is the table of object %s (tables and indexes share one namespace)", ix.Name, t.Name)
		} else {
			names[ix.Name] = a.full(rel)
		}
	}
	if len(ix.Fields) == 0 {
		a.errorf(CodeMissingRequired, rel+".fields", "index needs at least one field")
	}
	seen := map[string]bool{}
	for j, fk := range ix.Fields {
		fr := joinIndex(rel+".fields", j)
		if seen[fk] {
			a.errorf(CodeDuplicateName, fr, "field %s appears twice in the index", truncate(fk, 80))
			continue
		}
		seen[fk] = true
		if IsSystemColumn(fk) {
			continue
		}
		f, ok := v.fieldOf(o, fk)
		switch {
		case !ok:
			a.errorf(CodeDanglingReference, fr, "index field %q is not a field of %s (nor a system column)%s", truncate(fk, 80), o.Name, didYouMean(fk, fieldKeysOf(o)))
		case f.Type == TypeFormula:
			a.errorf(CodeInvalidValue, fr, "formula field %s has no column and cannot be indexed", fk)
		}
	}
	switch {
	case ix.Type == "" || ix.Type == "btree":
	case !contains(IndexTypes, ix.Type):
		a.errorf(CodeInvalidEnum, rel+".type", "index type %q must be one of %s", truncate(ix.Type, 40), strings.Join(IndexTypes, ", "))
	default:
		a.warnf(CodeIgnoredSetting, rel+".type", "SQLite only builds btree indexes; type %s becomes btree", ix.Type)
	}
	if ix.Partial != "" {
		if msg := unsafeSQL(ix.Partial); msg != "" {
			a.errorf(CodeUnsafeExpression, rel+".partial", "partial index condition %s", msg)
		}
	}
}

func fieldKeysOf(o *Object) []string {
	out := make([]string, 0, len(o.Fields)+len(SystemColumns))
	for _, f := range o.Fields {
		out = append(out, f.Key)
	}
	return append(out, SystemColumns...)
}

// unsafeSQL explains why an SQL fragment that the engine embeds verbatim (an index WHERE clause) could break out of
// its clause, or returns "". It rejects statement separators, comments and unbalanced quotes or parentheses.
func unsafeSQL(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"', '`':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return fmt.Sprintf("has an unterminated %c quote", c)
			}
			i += j + 1
		case '[':
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				return "has an unterminated [ quote"
			}
			i += j + 1
		case ';':
			return "may not contain ';'"
		case '-':
			if i+1 < len(s) && s[i+1] == '-' {
				return "may not contain an SQL comment (--)"
			}
		case '/':
			if i+1 < len(s) && s[i+1] == '*' {
				return "may not contain an SQL comment (/*)"
			}
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return "has an unbalanced ')'"
			}
		case 0:
			return "may not contain a NUL byte"
		}
	}
	if depth != 0 {
		return "has an unbalanced '('"
	}
	return ""
}

var (
	dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	timeRE = regexp.MustCompile(`^\d{2}:\d{2}:\d{2}$`)
)

// defaultProblem explains why f.DefaultValue does not fit f, or returns "".
func defaultProblem(f *Field) string {
	switch f.Type {
	case TypeFormula, TypeSummary, TypeAutonumber:
		return fmt.Sprintf("%s fields are computed and may not have a defaultValue", f.Type)
	}
	return valueProblem(f, f.DefaultValue, "defaultValue")
}

// valueProblem explains why v cannot be stored in field f (as a default or a seed value), or returns "".
func valueProblem(f *Field, v any, what string) string {
	if v == nil {
		return ""
	}
	switch f.Type {
	case TypeMultiselect, TypeCheckboxes:
		_, msg := listProblem(v, what, string(f.Type), "a list of option values", func(it any) string { return optionProblem(f, it) })
		return msg
	case TypeTags:
		_, msg := listProblem(v, what, "tags", "a list of strings", func(it any) string {
			if _, ok := it.(string); !ok {
				return "must be a string, got " + describeValue(it)
			}
			return ""
		})
		return msg
	case TypeVector:
		items, msg := listProblem(v, what, "vector", "a list of numbers", func(it any) string {
			if _, ok := asFloat(it); !ok {
				return "must be a number, got " + describeValue(it)
			}
			return ""
		})
		if msg == "" && f.VectorConfig != nil && f.VectorConfig.Dimensions > 0 && len(items) != f.VectorConfig.Dimensions {
			return fmt.Sprintf("%s has %d numbers; the vector has %d dimensions", what, len(items), f.VectorConfig.Dimensions)
		}
		return msg
	case TypeJSON, TypeImage, TypeFile, TypeAvatar, TypeVideo, TypeAudio, TypeLocation, TypeAddress:
		return ""
	}
	if f.Multiple {
		_, msg := listProblem(v, what, "multiple "+string(f.Type), "a list", func(it any) string { return scalarProblem(f, it) })
		return msg
	}
	if msg := scalarProblem(f, v); msg != "" {
		return what + " " + msg
	}
	return ""
}

// listProblem explains why v is not a list (of a kind field) of items that item accepts, or returns "" and the
// items. Each problem names the item's index, so a seed author can find the bad element in a long list.
func listProblem(v any, what, kind, want string, item func(it any) string) ([]any, string) {
	items, ok := asList(v)
	if !ok {
		return nil, fmt.Sprintf("%s of a %s field must be %s, got %s", what, kind, want, describeValue(v))
	}
	for i, it := range items {
		if msg := item(it); msg != "" {
			return items, fmt.Sprintf("%s[%d] %s", what, i, msg)
		}
	}
	return items, ""
}

func scalarProblem(f *Field, v any) string {
	switch f.Type {
	case TypeNumber, TypeCurrency, TypePercent, TypeRating, TypeSlider, TypeProgress, TypeSummary:
		n, ok := asFloat(v)
		if !ok {
			return fmt.Sprintf("must be a number for a %s field, got %s", f.Type, describeValue(v))
		}
		if f.Min != nil && n < *f.Min {
			return fmt.Sprintf("%g is below min %g", n, *f.Min)
		}
		if f.Max != nil && n > *f.Max {
			return fmt.Sprintf("%g is above max %g", n, *f.Max)
		}
		return ""
	case TypeBoolean, TypeToggle:
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("must be true or false for a %s field, got %s", f.Type, describeValue(v))
		}
		return ""
	case TypeSelect, TypeRadio:
		return optionProblem(f, v)
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("must be a string for a %s field, got %s", f.Type, describeValue(v))
	}
	switch f.Type {
	case TypeDate:
		if _, err := time.Parse("2006-01-02", s); err != nil || !dateRE.MatchString(s) {
			return fmt.Sprintf("%q is not a date (YYYY-MM-DD)", truncate(s, 40))
		}
	case TypeDatetime:
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("%q is not an RFC 3339 datetime (2006-01-02T15:04:05Z)", truncate(s, 40))
		}
	case TypeTime:
		if _, err := time.Parse("15:04:05", s); err != nil || !timeRE.MatchString(s) {
			return fmt.Sprintf("%q is not a time (HH:MM:SS)", truncate(s, 40))
		}
	}
	n := utf8.RuneCountInString(s)
	if f.MaxLength != nil && *f.MaxLength >= 0 && n > *f.MaxLength {
		return fmt.Sprintf("is %d characters long; maxLength is %d", n, *f.MaxLength)
	}
	if f.MinLength != nil && n < *f.MinLength {
		return fmt.Sprintf("is %d characters long; minLength is %d", n, *f.MinLength)
	}
	return ""
}

func optionProblem(f *Field, v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("must be an option value (a string), got %s", describeValue(v))
	}
	if len(f.Options) == 0 {
		return ""
	}
	for _, o := range f.Options {
		if o.Value == s {
			return ""
		}
	}
	values := make([]string, len(f.Options))
	for i, o := range f.Options {
		values[i] = o.Value
	}
	return fmt.Sprintf("%q is not one of the options (%s)", truncate(s, 40), strings.Join(values, ", "))
}

func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// asFloat accepts every Go numeric type, so objects built in code validate like loaded ones.
func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case bool, string, nil:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func describeValue(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string, bool, int64, float64, nil:
		return describeScalar(x)
	}
	if _, ok := asFloat(v); ok {
		return fmt.Sprintf("the number %v", v)
	}
	if _, ok := asList(v); ok {
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}

// datasets checks seed data against the objects it targets.
func (v *validator) datasets(list []Dataset) {
	for i := range list {
		v.dataset(i, &list[i])
	}
}

func (v *validator) dataset(i int, ds *Dataset) {
	prefix := joinIndex("seedData", i)
	at := func(rel string) (string, int) {
		if rel == "" {
			return prefix, lookupLine(ds.Lines, "")
		}
		if rel[0] == '[' {
			return prefix + rel, lookupLine(ds.Lines, rel)
		}
		return prefix + "." + rel, lookupLine(ds.Lines, rel)
	}
	errorf := func(code, rel, format string, a ...any) {
		p, l := at(rel)
		v.out.errorf(code, p, ds.Source, l, format, a...)
	}
	warnf := func(code, rel, format string, a ...any) {
		p, l := at(rel)
		v.out.warnf(code, p, ds.Source, l, format, a...)
	}
	mode := ds.Mode
	if mode == "" {
		mode = DefaultSeedMode
	}
	if !contains(SeedModes, mode) {
		errorf(CodeInvalidEnum, "mode", "mode %q must be one of %s", truncate(mode, 40), strings.Join(SeedModes, ", "))
	}
	for j, e := range ds.Env {
		if !contains(SeedEnvs, e) {
			errorf(CodeInvalidEnum, joinIndex("env", j), "env %q must be one of %s", truncate(e, 40), strings.Join(SeedEnvs, ", "))
		}
	}
	if len(ds.Records) == 0 {
		warnf(CodeMissingRequired, "records", "dataset for %s has no records", ds.Object)
	}
	switch {
	case ds.Object == "":
		errorf(CodeMissingRequired, "object", "dataset has no object")
		return
	case !IsIdentifier(ds.Object):
		errorf(CodeInvalidIdentifier, "object", "object %q must match ^[a-z_][a-z0-9_]*$", truncate(ds.Object, 80))
		return
	}
	obj, ok := v.objectExists(ds.Object)
	if !ok {
		errorf(CodeDanglingReference, "object", "dataset targets object %s, which exists nowhere", ds.Object)
		return
	}
	if obj == nil {
		return // owned elsewhere: its fields are unknown here
	}
	if obj.Abstract {
		errorf(CodeDanglingReference, "object", "dataset targets abstract object %s, which has no table", ds.Object)
		return
	}
	ext := ds.ExternalID
	if ext == "" {
		ext = DefaultExternalID
	}
	needsExt := mode == "upsert" || mode == "update" || mode == "ignore"
	if needsExt {
		if _, ok := v.fieldOf(obj, ext); !ok && ext != "id" {
			errorf(CodeDanglingReference, "externalId", "externalId %q is not a field of %s; mode %s matches records by it%s", truncate(ext, 80), obj.Name, mode, didYouMean(ext, fieldKeysOf(obj)))
			needsExt = false
		}
	}
	seenExt := map[string]int{}
	for j, rec := range ds.Records {
		rr := joinIndex("records", j)
		for _, k := range sortedKeys(rec) {
			val := rec[k]
			kr := joinKey(rr, k)
			if IsSystemColumn(k) {
				if k != "id" {
					errorf(CodeInvalidRecord, kr, "%s is set by the engine and cannot be seeded", k)
				}
				continue
			}
			f, ok := v.fieldOf(obj, k)
			if !ok {
				errorf(CodeInvalidRecord, kr, "%s has no field %q%s", obj.Name, truncate(k, 80), didYouMean(k, fieldKeysOf(obj)))
				continue
			}
			switch f.Type {
			case TypeFormula, TypeSummary, TypeAutonumber:
				errorf(CodeInvalidRecord, kr, "%s fields are computed and cannot be seeded", f.Type)
				continue
			}
			if val == nil && f.Required {
				errorf(CodeInvalidRecord, kr, "%s is required and may not be null", k)
				continue
			}
			if msg := valueProblem(f, val, "value"); msg != "" {
				errorf(CodeInvalidRecord, kr, "%s", msg)
			}
		}
		if needsExt {
			ev, ok := rec[ext]
			if !ok || ev == nil {
				errorf(CodeInvalidRecord, rr, "record has no %s, the externalId that mode %s matches on", ext, mode)
			} else {
				key := fmt.Sprint(ev)
				if prev, dup := seenExt[key]; dup {
					errorf(CodeInvalidRecord, joinKey(rr, ext), "%s %q repeats records[%d]", ext, truncate(key, 40), prev)
				} else {
					seenExt[key] = j
				}
			}
		}
		if mode != "update" {
			for _, f := range obj.Fields {
				if !f.Required || f.DefaultValue != nil || !hasColumn(f.Type) || IsSystemColumn(f.Column()) {
					continue
				}
				switch f.Type {
				case TypeSummary, TypeAutonumber:
					continue
				}
				if _, ok := rec[f.Key]; !ok {
					errorf(CodeInvalidRecord, rr, "record has no value for required field %s", f.Key)
				}
			}
		}
	}
}

var (
	manifestNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	checksumRE     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidVersion reports whether s is a full semantic version (1.2.3, 1.2.3-rc.1, 1.2.3+build), without a "v".
func ValidVersion(s string) bool {
	if s == "" || s[0] == 'v' || !semver.IsValid("v"+s) {
		return false
	}
	core := s
	if i := strings.IndexAny(core, "-+"); i >= 0 {
		core = core[:i]
	}
	return strings.Count(core, ".") == 2
}

func (v *validator) manifest(b *Bundle) {
	m := &b.Manifest
	if b.brokenDirs["manifest"] > 0 {
		return
	}
	errorf := func(code, rel, format string, a ...any) {
		p := "manifest"
		if rel != "" {
			p += "." + rel
		}
		v.out.errorf(code, p, m.Source, lookupLine(m.Lines, rel), format, a...)
	}
	switch {
	case m.Name == "":
		errorf(CodeMissingRequired, "name", "manifest has no name")
	case len(m.Name) > 64 || !manifestNameRE.MatchString(m.Name):
		errorf(CodeInvalidIdentifier, "name", "bundle name %q must match ^[a-z0-9][a-z0-9_-]*$ (at most 64 characters)", truncate(m.Name, 80))
	}
	switch {
	case m.Version == "":
		errorf(CodeMissingRequired, "version", "manifest has no version")
	case !ValidVersion(m.Version):
		errorf(CodeInvalidVersion, "version", "version %q is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)", truncate(m.Version, 40))
	}
	if m.CreatedAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, m.CreatedAt); err != nil {
			errorf(CodeInvalidValue, "createdAt", "createdAt %q is not an RFC 3339 datetime", truncate(m.CreatedAt, 40))
		}
	}
	if m.Checksum != "" {
		declared := strings.TrimPrefix(m.Checksum, "sha256:")
		if !checksumRE.MatchString(declared) {
			errorf(CodeInvalidValue, "checksum", "checksum must be 64 lower-case hex characters (SHA-256)")
		} else if got := Checksum(b); got != declared {
			errorf(CodeChecksumMismatch, "checksum", "declared checksum %s does not match the contents (%s)", declared, got)
		}
	}

	// Listed vs. present.
	present := map[string]bool{}
	for i := range b.Objects {
		present[b.Objects[i].Name] = true
	}
	v.listed(m, "objects", m.Objects, present, b.brokenDirs[dirObjects] > 0)
	for i := range b.Objects {
		o := &b.Objects[i]
		if IsIdentifier(o.Name) && !contains(m.Objects, o.Name) {
			objectAt{v: v, o: o, path: objectPath(o.Name, i)}.warnf(CodeUnlistedContent, "name", "object %s is not listed in the manifest's objects", o.Name)
		}
	}
	for _, rs := range []struct {
		key     string
		listed  []string
		records []map[string]any
	}{
		{"views", m.Views, b.Views},
		{"flows", m.Flows, b.Flows},
		{"permissions", m.Permissions, b.Permissions},
	} {
		present := map[string]bool{}
		for i, r := range rs.records {
			key := joinIndex(rs.key, i)
			name, _ := r["name"].(string)
			if name == "" {
				v.out.warnf(CodeMissingRequired, key+".name", b.RecordFiles[key], 0, "%s record has no name", strings.TrimSuffix(rs.key, "s"))
				continue
			}
			present[name] = true
			if !contains(rs.listed, name) {
				v.out.warnf(CodeUnlistedContent, key, b.RecordFiles[key], 0, "%s %s is not listed in the manifest's %s", strings.TrimSuffix(rs.key, "s"), name, rs.key)
			}
		}
		v.listed(m, rs.key, rs.listed, present, b.brokenDirs[rs.key] > 0)
	}
}

// listed reports names the manifest lists but the bundle lacks. When files of that kind failed to parse, the
// missing name is most likely in a broken file, so the parse error already says what is wrong.
func (v *validator) listed(m *Manifest, key string, names []string, present map[string]bool, broken bool) {
	seen := map[string]bool{}
	for i, n := range names {
		rel := joinIndex(key, i)
		p := "manifest." + rel
		line := lookupLine(m.Lines, rel)
		if seen[n] {
			v.out.warnf(CodeDuplicateName, p, m.Source, line, "%s is listed twice", n)
			continue
		}
		seen[n] = true
		if !present[n] && !broken {
			v.out.errorf(CodeMissingContent, p, m.Source, line, "manifest lists %s %s, but the bundle has no such %s", strings.TrimSuffix(key, "s"), truncate(n, 80), strings.TrimSuffix(key, "s"))
		}
	}
}

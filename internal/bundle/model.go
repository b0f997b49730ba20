package bundle

// FieldType is one of the protocol's 44 field types.
type FieldType string

// The 44 field types of the protocol (objectstack-protocol.md §3).
const (
	TypeText         FieldType = "text"
	TypeTextarea     FieldType = "textarea"
	TypeEmail        FieldType = "email"
	TypeURL          FieldType = "url"
	TypePhone        FieldType = "phone"
	TypePassword     FieldType = "password"
	TypeMarkdown     FieldType = "markdown"
	TypeHTML         FieldType = "html"
	TypeRichtext     FieldType = "richtext"
	TypeNumber       FieldType = "number"
	TypeCurrency     FieldType = "currency"
	TypePercent      FieldType = "percent"
	TypeDate         FieldType = "date"
	TypeDatetime     FieldType = "datetime"
	TypeTime         FieldType = "time"
	TypeBoolean      FieldType = "boolean"
	TypeToggle       FieldType = "toggle"
	TypeSelect       FieldType = "select"
	TypeMultiselect  FieldType = "multiselect"
	TypeRadio        FieldType = "radio"
	TypeCheckboxes   FieldType = "checkboxes"
	TypeLookup       FieldType = "lookup"
	TypeMasterDetail FieldType = "master_detail"
	TypeTree         FieldType = "tree"
	TypeImage        FieldType = "image"
	TypeFile         FieldType = "file"
	TypeAvatar       FieldType = "avatar"
	TypeVideo        FieldType = "video"
	TypeAudio        FieldType = "audio"
	TypeFormula      FieldType = "formula"
	TypeSummary      FieldType = "summary"
	TypeAutonumber   FieldType = "autonumber"
	TypeLocation     FieldType = "location"
	TypeAddress      FieldType = "address"
	TypeCode         FieldType = "code"
	TypeJSON         FieldType = "json"
	TypeColor        FieldType = "color"
	TypeRating       FieldType = "rating"
	TypeSlider       FieldType = "slider"
	TypeSignature    FieldType = "signature"
	TypeQrcode       FieldType = "qrcode"
	TypeProgress     FieldType = "progress"
	TypeTags         FieldType = "tags"
	TypeVector       FieldType = "vector"
)

// AllFieldTypes lists every valid field type in the protocol's order.
var AllFieldTypes = []FieldType{
	TypeText, TypeTextarea, TypeEmail, TypeURL, TypePhone, TypePassword, TypeMarkdown, TypeHTML, TypeRichtext,
	TypeNumber, TypeCurrency, TypePercent,
	TypeDate, TypeDatetime, TypeTime,
	TypeBoolean, TypeToggle,
	TypeSelect, TypeMultiselect, TypeRadio, TypeCheckboxes,
	TypeLookup, TypeMasterDetail, TypeTree,
	TypeImage, TypeFile, TypeAvatar, TypeVideo, TypeAudio,
	TypeFormula, TypeSummary, TypeAutonumber,
	TypeLocation, TypeAddress, TypeCode, TypeJSON, TypeColor, TypeRating, TypeSlider, TypeSignature, TypeQrcode,
	TypeProgress, TypeTags, TypeVector,
}

// Valid reports whether t is one of the 44 protocol field types.
func (t FieldType) Valid() bool {
	for _, v := range AllFieldTypes {
		if v == t {
			return true
		}
	}
	return false
}

// Option is one choice of a select/multiselect/radio/checkboxes field.
type Option struct {
	Label   string `json:"label" yaml:"label"`
	Value   string `json:"value" yaml:"value"`
	Color   string `json:"color,omitempty" yaml:"color,omitempty"`
	Default bool   `json:"default,omitempty" yaml:"default,omitempty"`
}

// SummaryOperations configures a summary (roll-up) field.
type SummaryOperations struct {
	Object   string `json:"object" yaml:"object"`
	Field    string `json:"field" yaml:"field"`
	Function string `json:"function" yaml:"function"` // count|sum|min|max|avg
}

// VectorConfig configures a vector field.
type VectorConfig struct {
	Dimensions     int    `json:"dimensions" yaml:"dimensions"`
	DistanceMetric string `json:"distanceMetric,omitempty" yaml:"distanceMetric,omitempty"`
	Normalized     bool   `json:"normalized,omitempty" yaml:"normalized,omitempty"`
	Indexed        *bool  `json:"indexed,omitempty" yaml:"indexed,omitempty"`
	IndexType      string `json:"indexType,omitempty" yaml:"indexType,omitempty"`
}

// CurrencyConfig configures a currency field.
type CurrencyConfig struct {
	Precision       *int   `json:"precision,omitempty" yaml:"precision,omitempty"`
	CurrencyMode    string `json:"currencyMode,omitempty" yaml:"currencyMode,omitempty"`
	DefaultCurrency string `json:"defaultCurrency,omitempty" yaml:"defaultCurrency,omitempty"`
}

// Field is one entry of an object's fields map. Key is the map key it was declared under.
// Only the properties that matter for the schema, plus the common UI ones, are modelled;
// other keys are kept in Extra so nothing the author wrote is silently lost.
type Field struct {
	Key        string    `json:"-" yaml:"-"`
	Type       FieldType `json:"type" yaml:"type"`
	Name       string    `json:"name,omitempty" yaml:"name,omitempty"`
	Label      string    `json:"label,omitempty" yaml:"label,omitempty"`
	ColumnName string    `json:"columnName,omitempty" yaml:"columnName,omitempty"`
	// RenamedFrom is the field's previous key: a tenant whose table still has that field's column gets it renamed
	// (data kept) instead of dropped and added; a tenant that never had it gets the field fresh.
	RenamedFrom       string             `json:"renamedFrom,omitempty" yaml:"renamedFrom,omitempty"`
	Required          bool               `json:"required,omitempty" yaml:"required,omitempty"`
	Unique            bool               `json:"unique,omitempty" yaml:"unique,omitempty"`
	DefaultValue      any                `json:"defaultValue,omitempty" yaml:"defaultValue,omitempty"` // nil = no default
	Multiple          bool               `json:"multiple,omitempty" yaml:"multiple,omitempty"`
	Reference         string             `json:"reference,omitempty" yaml:"reference,omitempty"`
	DeleteBehavior    string             `json:"deleteBehavior,omitempty" yaml:"deleteBehavior,omitempty"` // set_null|cascade|restrict
	MaxLength         *int               `json:"maxLength,omitempty" yaml:"maxLength,omitempty"`
	MinLength         *int               `json:"minLength,omitempty" yaml:"minLength,omitempty"`
	Precision         *int               `json:"precision,omitempty" yaml:"precision,omitempty"`
	Scale             *int               `json:"scale,omitempty" yaml:"scale,omitempty"`
	Min               *float64           `json:"min,omitempty" yaml:"min,omitempty"`
	Max               *float64           `json:"max,omitempty" yaml:"max,omitempty"`
	Options           []Option           `json:"options,omitempty" yaml:"options,omitempty"`
	Index             bool               `json:"index,omitempty" yaml:"index,omitempty"`
	ExternalID        bool               `json:"externalId,omitempty" yaml:"externalId,omitempty"`
	Expression        string             `json:"expression,omitempty" yaml:"expression,omitempty"`
	SummaryOperations *SummaryOperations `json:"summaryOperations,omitempty" yaml:"summaryOperations,omitempty"`
	AutonumberFormat  string             `json:"autonumberFormat,omitempty" yaml:"autonumberFormat,omitempty"`
	VectorConfig      *VectorConfig      `json:"vectorConfig,omitempty" yaml:"vectorConfig,omitempty"`
	CurrencyConfig    *CurrencyConfig    `json:"currencyConfig,omitempty" yaml:"currencyConfig,omitempty"`
	Description       string             `json:"description,omitempty" yaml:"description,omitempty"`
	Hidden            bool               `json:"hidden,omitempty" yaml:"hidden,omitempty"`
	Readonly          bool               `json:"readonly,omitempty" yaml:"readonly,omitempty"`
	Searchable        bool               `json:"searchable,omitempty" yaml:"searchable,omitempty"`
	Extra             map[string]any     `json:"-" yaml:"-"`
}

// Column returns the SQL column name: columnName when set, otherwise the field key.
func (f Field) Column() string {
	if f.ColumnName != "" {
		return f.ColumnName
	}
	return f.Key
}

// Index is an object-level index declaration.
type Index struct {
	Name    string   `json:"name,omitempty" yaml:"name,omitempty"`
	Fields  []string `json:"fields" yaml:"fields"`
	Type    string   `json:"type,omitempty" yaml:"type,omitempty"` // btree (default); others are accepted but SQLite only honours btree
	Unique  bool     `json:"unique,omitempty" yaml:"unique,omitempty"`
	Partial string   `json:"partial,omitempty" yaml:"partial,omitempty"` // a SQL WHERE clause
}

// SoftDelete configures soft deletion.
type SoftDelete struct {
	Enabled       bool   `json:"enabled" yaml:"enabled"`
	Field         string `json:"field,omitempty" yaml:"field,omitempty"` // default deleted_at
	CascadeDelete bool   `json:"cascadeDelete,omitempty" yaml:"cascadeDelete,omitempty"`
}

// Object is one object definition (one table in a tenant database).
// Fields keeps the order in which the author declared them; column order in CREATE TABLE follows it.
type Object struct {
	Name        string `json:"name" yaml:"name"`
	Label       string `json:"label,omitempty" yaml:"label,omitempty"`
	PluralLabel string `json:"pluralLabel,omitempty" yaml:"pluralLabel,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	Icon        string `json:"icon,omitempty" yaml:"icon,omitempty"`
	// RenamedFrom is the object's previous name: its table is renamed (rows, indexes and references kept) on a
	// tenant that still has the old one.
	RenamedFrom string         `json:"renamedFrom,omitempty" yaml:"renamedFrom,omitempty"`
	Fields      []Field        `json:"-" yaml:"-"`
	Indexes     []Index        `json:"indexes,omitempty" yaml:"indexes,omitempty"`
	Datasource  string         `json:"datasource,omitempty" yaml:"datasource,omitempty"`
	Active      *bool          `json:"active,omitempty" yaml:"active,omitempty"`
	IsSystem    bool           `json:"isSystem,omitempty" yaml:"isSystem,omitempty"`
	Abstract    bool           `json:"abstract,omitempty" yaml:"abstract,omitempty"`
	SoftDelete  *SoftDelete    `json:"softDelete,omitempty" yaml:"softDelete,omitempty"`
	Extra       map[string]any `json:"-" yaml:"-"` // UI-only and unmodelled keys, kept verbatim
	// Source is where the definition was loaded from (file path), for error messages. Not part of the checksum.
	Source string `json:"-" yaml:"-"`
	// Lines maps paths relative to the object ("", "fields.status", "fields.status.options[2].value",
	// "indexes[1].fields[0]") to the line they were written on in Source. Not part of the checksum.
	Lines map[string]int `json:"-" yaml:"-"`
}

// Field returns the field with key k.
func (o *Object) Field(k string) (*Field, bool) {
	for i := range o.Fields {
		if o.Fields[i].Key == k {
			return &o.Fields[i], true
		}
	}
	return nil, false
}

// Table returns the SQL table name: the object name, except that a qualified ns__short name keeps only short.
func (o *Object) Table() string {
	for i := 0; i+1 < len(o.Name); i++ {
		if o.Name[i] == '_' && o.Name[i+1] == '_' && i > 0 && i+2 < len(o.Name) {
			return o.Name[i+2:]
		}
	}
	return o.Name
}

// Dataset is seed data for one object (the spec's Dataset shape, protocol §6 item 18).
type Dataset struct {
	Object     string           `json:"object" yaml:"object"`
	ExternalID string           `json:"externalId,omitempty" yaml:"externalId,omitempty"` // default "name"
	Mode       string           `json:"mode,omitempty" yaml:"mode,omitempty"`             // insert|update|upsert|replace|ignore, default upsert
	Env        []string         `json:"env,omitempty" yaml:"env,omitempty"`               // default [prod, dev, test]
	Records    []map[string]any `json:"records" yaml:"records"`
	Source     string           `json:"-" yaml:"-"`
	// Lines maps paths relative to the dataset ("records[3].status") to lines in Source.
	Lines map[string]int `json:"-" yaml:"-"`
}

// Manifest is the DeployManifest (bundle.yaml).
type Manifest struct {
	Name        string   `json:"name" yaml:"name"` // the bundle's name; the engine's owner is "bundle:<name>"
	Version     string   `json:"version" yaml:"version"`
	Checksum    string   `json:"checksum,omitempty" yaml:"checksum,omitempty"`
	Objects     []string `json:"objects,omitempty" yaml:"objects,omitempty"`
	Views       []string `json:"views,omitempty" yaml:"views,omitempty"`
	Flows       []string `json:"flows,omitempty" yaml:"flows,omitempty"`
	Permissions []string `json:"permissions,omitempty" yaml:"permissions,omitempty"`
	CreatedAt   string   `json:"createdAt,omitempty" yaml:"createdAt,omitempty"`
	// Extra keeps keys the manifest format does not define.
	Extra map[string]any `json:"-" yaml:"-"`
	// Source and Lines locate the manifest file and its keys ("version", "objects[2]").
	Source string         `json:"-" yaml:"-"`
	Lines  map[string]int `json:"-" yaml:"-"`
}

// Bundle is a DeployBundle loaded from a folder. Views, flows and permissions are untyped records
// at bundle level in the protocol; they are kept as maps.
type Bundle struct {
	Manifest    Manifest         `json:"manifest"`
	Objects     []Object         `json:"objects"`
	Views       []map[string]any `json:"views"`
	Flows       []map[string]any `json:"flows"`
	Permissions []map[string]any `json:"permissions"`
	SeedData    []Dataset        `json:"seedData"`
	// Dir is the folder the bundle was loaded from.
	Dir string `json:"-"`
	// Checksum is the canonical SHA-256 (hex) of the bundle's contents, independent of key order and formatting.
	Checksum string `json:"-"`
	// RecordFiles maps "views[0]", "flows[1]", "permissions[2]" and "seedData[3]" to the file each came from.
	RecordFiles map[string]string `json:"-"`
	// brokenDirs counts, per folder (objects, views, ...), files that could not be parsed at all; their names are
	// unknown, so "listed in the manifest but missing" would only repeat the parse error.
	brokenDirs map[string]int
}

// Object returns the object named name.
func (b *Bundle) Object(name string) (*Object, bool) {
	for i := range b.Objects {
		if b.Objects[i].Name == name {
			return &b.Objects[i], true
		}
	}
	return nil, false
}

// Severity of a validation issue.
type Severity string

// Issue severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Issue is a DeployValidationIssue, extended with the file and line where the problem is.
type Issue struct {
	Severity Severity `json:"severity"`
	Path     string   `json:"path"` // e.g. objects.support_ticket.fields.status.options[2].value
	Message  string   `json:"message"`
	Code     string   `json:"code,omitempty"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
}

// ValidationResult is the protocol's DeployValidationResult.
type ValidationResult struct {
	Valid        bool    `json:"valid"`
	Issues       []Issue `json:"issues"`
	ErrorCount   int     `json:"errorCount"`
	WarningCount int     `json:"warningCount"`
}

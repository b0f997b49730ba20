package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// node is a format-neutral document tree: YAML and JSON both parse into it, so decoding, line tracking, duplicate
// key detection and limits are written once.
type node struct {
	kind  nodeKind
	line  int
	pairs []pair // kindMap, in document order
	items []*node
	value any // kindScalar: string, int64, float64, bool or nil
}

type pair struct {
	key  string
	line int
	val  *node
}

type nodeKind int

const (
	kindScalar nodeKind = iota
	kindMap
	kindSeq
)

func (k nodeKind) String() string {
	switch k {
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	}
	return "a scalar"
}

// get returns the value stored under key, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for _, p := range n.pairs {
		if p.key == key {
			return p.val
		}
	}
	return nil
}

// Limits that keep a hostile document from exhausting memory or the stack.
const (
	maxDepth = 64
	// maxNodes bounds the expanded size of one document, so YAML aliases cannot multiply a small file into
	// millions of nodes.
	maxNodes = 1_000_000
)

// parseError is a content problem found while parsing, positioned at a line when known.
type parseError struct {
	code string
	line int
	msg  string
}

func (e *parseError) Error() string { return e.msg }

// parseDocument parses data as JSON when name ends in .json and as YAML otherwise.
func parseDocument(name string, data []byte) (*node, *parseError) {
	if !utf8.Valid(data) {
		return nil, &parseError{code: CodeInvalidEncoding, line: invalidUTF8Line(data), msg: "file is not valid UTF-8"}
	}
	// Editors on Windows like to start files with a byte-order mark; it is not content.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		return parseJSON(data)
	}
	return parseYAML(data)
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func parseYAML(data []byte) (*node, *parseError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &parseError{code: CodeParseError, line: 1, msg: "document is empty"}
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &parseError{code: CodeParseError, line: extra.Line, msg: "file holds more than one YAML document; put one definition per file"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	c := yamlConverter{}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, &parseError{code: CodeParseError, line: 1, msg: "document is empty"}
		}
		root = root.Content[0]
	}
	n, perr := c.convert(root, 0)
	if perr != nil {
		return nil, perr
	}
	return n, nil
}

func yamlError(err error) *parseError {
	msg := ParseErrorMessage(err)
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	return &parseError{code: CodeParseError, line: line, msg: "invalid YAML: " + msg}
}

type yamlConverter struct{ nodes int }

func (c *yamlConverter) convert(y *yaml.Node, depth int) (*node, *parseError) {
	c.nodes++
	if c.nodes > maxNodes {
		return nil, &parseError{code: CodeTooLarge, line: y.Line, msg: fmt.Sprintf("document expands to more than %d values (alias expansion?)", maxNodes)}
	}
	if depth > maxDepth {
		return nil, &parseError{code: CodeParseError, line: y.Line, msg: fmt.Sprintf("document is nested deeper than %d levels", maxDepth)}
	}
	switch y.Kind {
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, &parseError{code: CodeParseError, line: y.Line, msg: "unknown alias"}
		}
		// Aliases expand in place; the node budget above stops exponential expansion.
		n, err := c.convert(y.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		cp := *n
		cp.line = y.Line
		return &cp, nil
	case yaml.MappingNode:
		n := &node{kind: kindMap, line: y.Line}
		seen := make(map[string]int, len(y.Content)/2)
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, &parseError{code: CodeParseError, line: k.Line, msg: "mapping keys must be plain strings"}
			}
			if k.ShortTag() == "!!merge" {
				return nil, &parseError{code: CodeParseError, line: k.Line, msg: "YAML merge keys (<<) are not supported; write the keys out"}
			}
			if first, dup := seen[k.Value]; dup {
				return nil, &parseError{code: CodeDuplicateKey, line: k.Line, msg: fmt.Sprintf("key %q is defined twice (first at line %d)", k.Value, first)}
			}
			seen[k.Value] = k.Line
			cv, err := c.convert(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.pairs = append(n.pairs, pair{key: k.Value, line: k.Line, val: cv})
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kindSeq, line: y.Line, items: make([]*node, 0, len(y.Content))}
		for _, it := range y.Content {
			cv, err := c.convert(it, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, cv)
		}
		return n, nil
	case yaml.ScalarNode:
		v, err := yamlScalar(y)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindScalar, line: y.Line, value: v}, nil
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: kindScalar, line: y.Line}, nil
		}
		return c.convert(y.Content[0], depth)
	}
	return nil, &parseError{code: CodeParseError, line: y.Line, msg: "unsupported YAML node"}
}

func yamlScalar(y *yaml.Node) (any, *parseError) {
	switch y.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		switch y.Value { // fast path for the spellings YAML 1.2 produces
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		var b bool
		if err := y.Decode(&b); err != nil {
			return nil, &parseError{code: CodeParseError, line: y.Line, msg: "invalid boolean " + strconv.Quote(y.Value)}
		}
		return b, nil
	case "!!int":
		// Fast path for plain decimals; anything with a leading zero, sign or base prefix goes through yaml.v3 so
		// "0755" means what yaml.v3 says it means.
		if v := y.Value; v != "" && (v[0] != '0' || v == "0") && v[0] != '+' && !strings.HasPrefix(v, "-0") {
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				return i, nil
			}
		}
		var i int64
		if err := y.Decode(&i); err == nil {
			return i, nil
		}
		var f float64
		if err := y.Decode(&f); err != nil {
			return nil, &parseError{code: CodeParseError, line: y.Line, msg: "invalid number " + strconv.Quote(y.Value)}
		}
		return f, nil
	case "!!float":
		f, err := strconv.ParseFloat(y.Value, 64)
		if err != nil {
			err = y.Decode(&f)
		}
		if err != nil {
			return nil, &parseError{code: CodeParseError, line: y.Line, msg: "invalid number " + strconv.Quote(y.Value)}
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, &parseError{code: CodeInvalidType, line: y.Line, msg: "NaN and infinity are not allowed"}
		}
		return f, nil
	}
	// Strings, timestamps (kept as written so dates stay text) and custom tags.
	return y.Value, nil
}

// parseJSON walks the token stream so it can keep key order, line numbers and reject duplicate keys,
// which encoding/json's map decoding silently accepts (last one wins).
func parseJSON(data []byte) (*node, *parseError) {
	p := jsonParser{dec: json.NewDecoder(bytes.NewReader(data)), lines: lineStarts(data)}
	p.dec.UseNumber()
	tok, err := p.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &parseError{code: CodeParseError, line: 1, msg: "document is empty"}
		}
		return nil, p.err(err)
	}
	n, perr := p.value(tok, 0)
	if perr != nil {
		return nil, perr
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &parseError{code: CodeParseError, line: p.line(), msg: "invalid JSON: unexpected data after the top-level value"}
	}
	return n, nil
}

type jsonParser struct {
	dec   *json.Decoder
	lines []int
	nodes int
}

func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func (p *jsonParser) lineAt(off int64) int {
	return sort.Search(len(p.lines), func(i int) bool { return int64(p.lines[i]) > off })
}

// line is the line of the last byte of the token just read.
func (p *jsonParser) line() int {
	off := p.dec.InputOffset() - 1
	if off < 0 {
		off = 0
	}
	return p.lineAt(off)
}

func (p *jsonParser) err(err error) *parseError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := se.Offset - 1
		if off < 0 {
			off = 0
		}
		return &parseError{code: CodeParseError, line: p.lineAt(off), msg: "invalid JSON: " + ParseErrorMessage(se)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &parseError{code: CodeParseError, line: len(p.lines), msg: "invalid JSON: unexpected end of file"}
	}
	return &parseError{code: CodeParseError, line: p.line(), msg: "invalid JSON: " + ParseErrorMessage(err)}
}

// quotedSnippet matches what YAML and JSON decoders quote from the input: `values`, 'x', "keys".
var quotedSnippet = regexp.MustCompile("`[^`]*`|'[^']*'|\"[^\"]*\"")

// ParseErrorMessage is a YAML or JSON decoder's error without the pieces of the file it quotes. A file that
// does not parse may not be a definition at all — a link to a token file, /etc/passwd in a CI checkout —
// and an issue must show only its name and line. Single punctuation marks (the grammar's ',' '}' ':') stay.
func ParseErrorMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = quotedSnippet.ReplaceAllStringFunc(msg, func(q string) string {
		if inner := q[1 : len(q)-1]; len(inner) == 1 && strings.ContainsAny(inner, ",:;{}[]()-?|>&*!%@#=") {
			return q
		}
		return ""
	})
	return strings.Join(strings.Fields(msg), " ")
}

func (p *jsonParser) value(tok json.Token, depth int) (*node, *parseError) {
	p.nodes++
	if p.nodes > maxNodes {
		return nil, &parseError{code: CodeTooLarge, line: p.line(), msg: fmt.Sprintf("document holds more than %d values", maxNodes)}
	}
	if depth > maxDepth {
		return nil, &parseError{code: CodeParseError, line: p.line(), msg: fmt.Sprintf("document is nested deeper than %d levels", maxDepth)}
	}
	line := p.line()
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: kindMap, line: line}
			seen := map[string]int{}
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.err(err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, &parseError{code: CodeParseError, line: p.line(), msg: "invalid JSON: object key is not a string"}
				}
				kl := p.line()
				if first, dup := seen[key]; dup {
					return nil, &parseError{code: CodeDuplicateKey, line: kl, msg: fmt.Sprintf("key %q is defined twice (first at line %d)", key, first)}
				}
				seen[key] = kl
				vt, err := p.dec.Token()
				if err != nil {
					return nil, p.err(err)
				}
				v, perr := p.value(vt, depth+1)
				if perr != nil {
					return nil, perr
				}
				n.pairs = append(n.pairs, pair{key: key, line: kl, val: v})
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.err(err)
			}
			return n, nil
		case '[':
			n := &node{kind: kindSeq, line: line}
			for p.dec.More() {
				vt, err := p.dec.Token()
				if err != nil {
					return nil, p.err(err)
				}
				v, perr := p.value(vt, depth+1)
				if perr != nil {
					return nil, perr
				}
				n.items = append(n.items, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.err(err)
			}
			return n, nil
		}
		return nil, &parseError{code: CodeParseError, line: line, msg: "invalid JSON: unexpected " + t.String()}
	case json.Number:
		v, err := jsonNumber(t)
		if err != nil {
			return nil, &parseError{code: CodeInvalidType, line: line, msg: err.Error()}
		}
		return &node{kind: kindScalar, line: line, value: v}, nil
	case string, bool, nil:
		return &node{kind: kindScalar, line: line, value: t}, nil
	}
	return nil, &parseError{code: CodeParseError, line: line, msg: fmt.Sprintf("invalid JSON: unexpected token %v", tok)}
}

// jsonNumber keeps integers as int64 and everything else as float64, the same types YAML yields, so a value has
// the same Go type whichever format it was written in.
func jsonNumber(n json.Number) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("number %s is out of range", s)
	}
	return f, nil
}

// plain converts a node to plain Go values (map[string]any, []any, string, int64, float64, bool, nil).
func (n *node) plain() any {
	switch n.kind {
	case kindMap:
		m := make(map[string]any, len(n.pairs))
		for _, p := range n.pairs {
			m[p.key] = p.val.plain()
		}
		return m
	case kindSeq:
		s := make([]any, len(n.items))
		for i, it := range n.items {
			s[i] = it.plain()
		}
		return s
	}
	return n.value
}

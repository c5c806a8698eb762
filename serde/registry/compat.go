package registry

import (
	"fmt"
	"strings"

	havro "github.com/hamba/avro/v2"

	"github.com/kafki/kafki/serde/internal/avrocompat"
)

// Compatibility levels, as the registry API spells them.
const (
	CompatNone               = "NONE"
	CompatBackward           = "BACKWARD"
	CompatBackwardTransitive = "BACKWARD_TRANSITIVE"
	CompatForward            = "FORWARD"
	CompatForwardTransitive  = "FORWARD_TRANSITIVE"
	CompatFull               = "FULL"
	CompatFullTransitive     = "FULL_TRANSITIVE"
)

// normLevel returns the canonical spelling of a compatibility level, or ""
// if it is not one.
func normLevel(l string) string {
	switch u := strings.ToUpper(strings.TrimSpace(l)); u {
	case CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward,
		CompatForwardTransitive, CompatFull, CompatFullTransitive:
		return u
	}
	return ""
}

// parseAvro parses an Avro schema whose named types may come from
// references (resolved by lookup, in order, into the same name cache).
func parseAvro(text string, refs []Reference, lookup func(Reference) (string, []Reference, bool), depth int) (havro.Schema, *havro.SchemaCache, error) {
	cache := &havro.SchemaCache{}
	if err := parseRefs(refs, lookup, cache, depth); err != nil {
		return nil, nil, err
	}
	s, err := havro.ParseWithCache(text, "", cache)
	return s, cache, err
}

func parseRefs(refs []Reference, lookup func(Reference) (string, []Reference, bool), cache *havro.SchemaCache, depth int) error {
	if depth > 32 {
		return fmt.Errorf("schema references nested deeper than 32")
	}
	for _, r := range refs {
		text, sub, ok := lookup(r)
		if !ok {
			return fmt.Errorf("reference %q to subject %q version %d not found", r.Name, r.Subject, r.Version)
		}
		if err := parseRefs(sub, lookup, cache, depth+1); err != nil {
			return err
		}
		if _, err := havro.ParseWithCache(text, "", cache); err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %v", r.Name, r.Subject, r.Version, err)
		}
	}
	return nil
}

// incompatibility is one failed check, in the shape of the reference
// registry's details.
type incompatibility struct {
	errorType   string
	description string
	oldVersion  int
	oldSchema   string
	level       string
}

func (i incompatibility) String() string {
	return fmt.Sprintf("{errorType:'%s', description:'%s'}, {oldSchemaVersion: %d}, {oldSchema: '%s'}, {compatibility: '%s'}",
		i.errorType, i.description, i.oldVersion, i.oldSchema, i.level)
}

type prior struct {
	version int
	text    string
	schema  havro.Schema
}

// checkCompat checks a new schema against the subject's earlier versions
// (oldest first) under level. Non-transitive levels check only the latest.
func checkCompat(level string, next havro.Schema, earlier []prior) []incompatibility {
	if level == CompatNone || len(earlier) == 0 {
		return nil
	}
	if !strings.HasSuffix(level, "_TRANSITIVE") {
		earlier = earlier[len(earlier)-1:]
	}
	base := strings.TrimSuffix(level, "_TRANSITIVE")
	var out []incompatibility
	c := havro.NewSchemaCompatibility()
	for i := len(earlier) - 1; i >= 0; i-- {
		old := earlier[i]
		if base == CompatBackward || base == CompatFull {
			// The new schema must read data written with the old one.
			if err := c.Compatible(next, old.schema); err != nil {
				why := strings.Join(avrocompat.Explain(next, old.schema), "; ")
				out = append(out, incompatibility{errorType(why), "The new schema cannot read data written with the old schema: " + why, old.version, old.text, level})
				continue
			}
		}
		if base == CompatForward || base == CompatFull {
			// The old schema must read data written with the new one.
			if err := c.Compatible(old.schema, next); err != nil {
				why := strings.Join(avrocompat.Explain(old.schema, next), "; ")
				out = append(out, incompatibility{errorType(why), "The old schema cannot read data written with the new schema: " + why, old.version, old.text, level})
			}
		}
	}
	return out
}

// errorType maps an explanation to the reference registry's error type
// names where it can.
func errorType(msg string) string {
	switch {
	case strings.Contains(msg, "default"):
		return "READER_FIELD_MISSING_DEFAULT_VALUE"
	case strings.Contains(msg, "symbol"):
		return "MISSING_ENUM_SYMBOLS"
	case strings.Contains(msg, "size"):
		return "FIXED_SIZE_MISMATCH"
	case strings.Contains(msg, "name"):
		return "NAME_MISMATCH"
	case strings.Contains(msg, "union"):
		return "MISSING_UNION_BRANCH"
	}
	return "TYPE_MISMATCH"
}

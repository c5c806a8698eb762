package avro

import (
	"errors"
	"fmt"

	havro "github.com/hamba/avro/v2"
)

// validate walks Avro binary data with the writer schema before the real
// decode and rejects data that is malformed or whose lengths and counts
// cannot fit in the bytes that remain. hamba/avro trusts block counts: a
// corrupt count makes it allocate huge slices, or loop for a very long time
// when it skips an unwanted field, so untrusted bytes are checked first.
// The walk allocates nothing.
type validator struct {
	data   []byte
	pos    int
	depth  int
	min    map[havro.Schema]int // read-only once built by newMinSizes
	frozen bool
}

// newMinSizes computes the minimum encoded size of every record reachable
// from s, once per writer schema, so that validation only reads the map.
func newMinSizes(s havro.Schema) map[havro.Schema]int {
	v := validator{min: make(map[havro.Schema]int)}
	seen := make(map[havro.Schema]bool)
	var walk func(havro.Schema)
	walk = func(s havro.Schema) {
		s = deref(s)
		if seen[s] {
			return
		}
		seen[s] = true
		switch t := s.(type) {
		case *havro.RecordSchema:
			for _, f := range t.Fields() {
				walk(f.Type())
			}
			v.minSize(t)
		case *havro.ArraySchema:
			walk(t.Items())
		case *havro.MapSchema:
			walk(t.Values())
		case *havro.UnionSchema:
			for _, u := range t.Types() {
				walk(u)
			}
		}
	}
	walk(s)
	return v.min
}

const (
	maxDepth = 256
	// maxZeroSizeItems bounds arrays and maps whose items encode in zero
	// bytes (null, empty records), which no data length can bound.
	maxZeroSizeItems = 1 << 20
)

var errTrailing = errors.New("trailing bytes after the record")

func (v *validator) fail(format string, args ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{v.pos}, args...)...)
}

func (v *validator) long() (int64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if v.pos >= len(v.data) {
			return 0, v.fail("truncated varint")
		}
		b := v.data[v.pos]
		v.pos++
		x |= uint64(b&0x7f) << shift
		if b&0x80 == 0 {
			return int64(x>>1) ^ -int64(x&1), nil
		}
	}
	return 0, v.fail("varint longer than 10 bytes")
}

func (v *validator) skip(n int64, what string) error {
	if n < 0 || n > int64(len(v.data)-v.pos) {
		return v.fail("%s length %d exceeds the %d bytes left", what, n, len(v.data)-v.pos)
	}
	v.pos += int(n)
	return nil
}

func deref(s havro.Schema) havro.Schema {
	if r, ok := s.(*havro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// minSize is the fewest bytes a value of s can take.
func (v *validator) minSize(s havro.Schema) int {
	s = deref(s)
	switch s.Type() {
	case havro.Null:
		return 0
	case havro.Float:
		return 4
	case havro.Double:
		return 8
	case havro.Fixed:
		return s.(*havro.FixedSchema).Size()
	case havro.Record, havro.Error:
		if n, ok := v.min[s]; ok || v.frozen {
			return n
		}
		v.min[s] = 0 // cycles (through unions/arrays) count as 0 here
		n := 0
		for _, f := range s.(*havro.RecordSchema).Fields() {
			n += v.minSize(f.Type())
		}
		v.min[s] = n
		return n
	}
	return 1
}

func (v *validator) value(s havro.Schema) error {
	s = deref(s)
	switch s.Type() {
	case havro.Null:
		return nil
	case havro.Boolean:
		return v.skip(1, "boolean")
	case havro.Int, havro.Long:
		_, err := v.long()
		return err
	case havro.Float:
		return v.skip(4, "float")
	case havro.Double:
		return v.skip(8, "double")
	case havro.String, havro.Bytes:
		n, err := v.long()
		if err != nil {
			return err
		}
		return v.skip(n, string(s.Type()))
	case havro.Fixed:
		return v.skip(int64(s.(*havro.FixedSchema).Size()), "fixed")
	case havro.Enum:
		i, err := v.long()
		if err != nil {
			return err
		}
		if syms := s.(*havro.EnumSchema).Symbols(); i < 0 || i >= int64(len(syms)) {
			return v.fail("enum index %d out of range [0,%d)", i, len(syms))
		}
		return nil
	case havro.Union:
		i, err := v.long()
		if err != nil {
			return err
		}
		types := s.(*havro.UnionSchema).Types()
		if i < 0 || i >= int64(len(types)) {
			return v.fail("union index %d out of range [0,%d)", i, len(types))
		}
		return v.nested(types[i])
	case havro.Record, havro.Error:
		for _, f := range s.(*havro.RecordSchema).Fields() {
			if err := v.nested(f.Type()); err != nil {
				return err
			}
		}
		return nil
	case havro.Array:
		return v.blocks(s.(*havro.ArraySchema).Items(), false)
	case havro.Map:
		return v.blocks(s.(*havro.MapSchema).Values(), true)
	}
	return v.fail("unsupported schema type %s", s.Type())
}

func (v *validator) nested(s havro.Schema) error {
	v.depth++
	defer func() { v.depth-- }()
	if v.depth > maxDepth {
		return v.fail("nested deeper than %d", maxDepth)
	}
	return v.value(s)
}

func (v *validator) blocks(items havro.Schema, isMap bool) error {
	per := v.minSize(items)
	if isMap {
		per++ // the key's length
	}
	total := int64(0)
	for {
		n, err := v.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			if n == -n { // math.MinInt64
				return v.fail("invalid block count")
			}
			n = -n
			if _, err := v.long(); err != nil { // block size in bytes
				return err
			}
		}
		left := int64(len(v.data) - v.pos)
		if per > 0 && n > left/int64(per) {
			return v.fail("block of %d items cannot fit in the %d bytes left", n, left)
		}
		total += n
		if per == 0 && total > maxZeroSizeItems {
			return v.fail("more than %d zero-size items", maxZeroSizeItems)
		}
		for i := int64(0); i < n; i++ {
			if isMap {
				k, err := v.long()
				if err != nil {
					return err
				}
				if err := v.skip(k, "map key"); err != nil {
					return err
				}
			}
			if err := v.nested(items); err != nil {
				return err
			}
		}
	}
}

// validate checks data against the writer schema: well-formed, every
// length within bounds, and no bytes left over.
func validate(writer havro.Schema, min map[havro.Schema]int, data []byte) error {
	v := validator{data: data, min: min, frozen: true}
	if err := v.value(writer); err != nil {
		return err
	}
	if v.pos != len(data) {
		return fmt.Errorf("at byte %d: %w (%d)", v.pos, errTrailing, len(data)-v.pos)
	}
	return nil
}

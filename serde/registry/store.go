package registry

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"time"
)

// Records of the _schemas topic. Keys and values are JSON. Every process
// applies the records of the topic's single partition in offset order with
// the same deterministic rules (apply below), so every process that has
// read up to the same offset holds the same state.
//
// Key types:
//
//	{"keytype":"SCHEMA","subject":S,"version":V,"nonce":N}  one subject version
//	{"keytype":"CONFIG","subject":S}                        compatibility of S ("subject" absent: global)
//	{"keytype":"NOOP","nonce":N}                            a marker, value null, used to sync
//
// A SCHEMA value is a schemaValue. It is either a proposal (confirmed
// false), written by the process that registers a schema, or a confirmed
// record, written afterwards under the same key.

type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject,omitempty"`
	Version int     `json:"version,omitempty"`
	Nonce   string  `json:"nonce,omitempty"`
}

const (
	keySchema = "SCHEMA"
	keyConfig = "CONFIG"
	keyNoop   = "NOOP"
	// keyDeleteSubject is Confluent's soft delete of a whole subject: its
	// value {"subject":S,"version":N} marks versions 1 to N deleted. Kafki
	// writes a soft delete per version instead, but reads both.
	keyDeleteSubject = "DELETE_SUBJECT"
)

type schemaValue struct {
	Subject    string      `json:"subject"`
	Version    int         `json:"version"`
	ID         int         `json:"id"` // 0 in a proposal for a new schema: the id is the proposal's offset
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType,omitempty"` // empty for AVRO
	References []Reference `json:"references,omitempty"`
	Deleted    bool        `json:"deleted"`
	Confirmed  bool        `json:"confirmed"`
}

type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

// Reference is a schema reference: a named type defined in another
// subject's version.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// entry is one subject version in the state.
type entry struct {
	key       string // the raw record key, reused for confirmations, soft and hard deletes
	subject   string
	version   int
	id        int
	deleted   bool
	confirmed bool
	offset    int64
	ts        time.Time
}

// schemaInfo is one schema id.
type schemaInfo struct {
	id     int
	text   string
	typ    string // "" for AVRO
	refs   []Reference
	ident  string // normalized identity: same ident => same id
	usages int    // entries using this id
}

// state is what the topic says, up to offset next-1.
type state struct {
	next     int64                     // the next offset to apply
	subjects map[string]map[int]*entry // subject -> version -> entry
	byKey    map[string]*entry
	ids      map[int]*schemaInfo
	byIdent  map[string]int
	global   string            // "" = default
	compat   map[string]string // subject-level compatibility
	rejected map[string]int64  // keys of rejected proposals not yet tombstoned -> offset
}

func newState() *state {
	return &state{
		subjects: make(map[string]map[int]*entry),
		byKey:    make(map[string]*entry),
		ids:      make(map[int]*schemaInfo),
		byIdent:  make(map[string]int),
		compat:   make(map[string]string),
		rejected: make(map[string]int64),
	}
}

// identity normalizes a schema for equality: its JSON re-encoded with
// sorted keys and no whitespace (so formatting and key order do not make
// two schemas different), plus the type and references.
func identity(text, typ string, refs []Reference) string {
	norm := text
	var v any
	d := json.NewDecoder(bytes.NewReader([]byte(text)))
	d.UseNumber()
	if err := d.Decode(&v); err == nil {
		if b, err := json.Marshal(v); err == nil {
			norm = string(b)
		}
	}
	if typ == "AVRO" {
		typ = ""
	}
	id := typ + "\x00" + norm
	for _, r := range refs {
		id += "\x00" + r.Name + "\x00" + r.Subject + "\x00" + strconv.Itoa(r.Version)
	}
	return id
}

func (s *state) nextVersion(subject string) int {
	max := 0
	for v := range s.subjects[subject] {
		if v > max {
			max = v
		}
	}
	return max + 1
}

// apply applies one record; records it does not understand are skipped.
func (s *state) apply(key, value []byte, offset int64, ts time.Time) {
	s.next = offset + 1
	var k recordKey
	if err := json.Unmarshal(key, &k); err != nil {
		return // not ours: ignore
	}
	switch k.KeyType {
	case keyConfig:
		subject := ""
		if k.Subject != nil {
			subject = *k.Subject
		}
		level := ""
		if value != nil {
			var v configValue
			if json.Unmarshal(value, &v) != nil {
				return
			}
			level = normLevel(v.CompatibilityLevel)
		}
		if subject == "" && k.Subject == nil {
			s.global = level
		} else if level == "" {
			delete(s.compat, subject)
		} else {
			s.compat[subject] = level
		}
	case keySchema:
		s.applySchema(string(key), value, offset, ts)
	case keyDeleteSubject:
		var v struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
		}
		if value == nil || json.Unmarshal(value, &v) != nil {
			return
		}
		for ver, e := range s.subjects[v.Subject] {
			if ver <= v.Version {
				e.deleted = true
			}
		}
	}
}

// writtenByConfluent reports whether a SCHEMA value lacks the confirmed
// field: Confluent's registry writes each record once and final (a
// registration, or the same key again with deleted set), without the
// proposal and confirmation Kafki's servers use.
func writtenByConfluent(value []byte) bool {
	var probe struct {
		Confirmed *bool `json:"confirmed"`
	}
	return json.Unmarshal(value, &probe) == nil && probe.Confirmed == nil
}

func (s *state) applySchema(key string, value []byte, offset int64, ts time.Time) {
	if value == nil { // tombstone: hard delete, or cleanup of a rejected proposal
		delete(s.rejected, key)
		if e := s.byKey[key]; e != nil {
			s.remove(e)
		}
		return
	}
	var v schemaValue
	if err := json.Unmarshal(value, &v); err != nil || v.Subject == "" || v.Version < 1 {
		return
	}
	if writtenByConfluent(value) {
		v.Confirmed = true
	}
	if e := s.byKey[key]; e != nil {
		if e.subject != v.Subject || e.version != v.Version {
			return
		}
		// A confirmation or a soft delete of a known entry.
		if v.Confirmed {
			e.confirmed = true
			e.deleted = v.Deleted
		}
		return
	}
	ident := identity(v.Schema, v.SchemaType, v.References)
	if v.Confirmed {
		// A confirmed record was accepted when it was proposed; it only
		// reaches this point as the first record of its key when
		// compaction removed the proposal. It always applies, and pushes
		// out unconfirmed entries that conflict with it.
		if v.ID <= 0 {
			return
		}
		if old := s.subjects[v.Subject][v.Version]; old != nil {
			s.remove(old)
			s.rejected[old.key] = old.offset
		}
		if info := s.ids[v.ID]; info != nil && info.ident != ident {
			for _, e := range s.entriesOf(v.ID) {
				s.remove(e)
				s.rejected[e.key] = e.offset
			}
		}
		s.add(key, &v, v.ID, ident, offset, ts, true)
		return
	}
	// A proposal: accepted if it agrees with everything before it.
	id, ok := s.checkProposal(&v, ident, offset)
	if !ok {
		s.rejected[key] = offset
		return
	}
	s.add(key, &v, id, ident, offset, ts, false)
}

// checkProposal returns the id a proposal gets, or false if it conflicts
// with the state: its version is not the subject's next one, or it asks
// for a new id while the same schema already has one, or it names an id
// that belongs to another schema.
func (s *state) checkProposal(v *schemaValue, ident string, offset int64) (int, bool) {
	if v.Version != s.nextVersion(v.Subject) {
		return 0, false
	}
	id := v.ID
	if id == 0 {
		if _, exists := s.byIdent[ident]; exists {
			return 0, false
		}
		if offset < 1 || offset > math.MaxInt32 {
			return 0, false
		}
		id = int(offset)
		if s.ids[id] != nil {
			return 0, false
		}
		return id, true
	}
	if info := s.ids[id]; info != nil && info.ident != ident {
		return 0, false
	}
	if other, exists := s.byIdent[ident]; exists && other != id {
		return 0, false
	}
	return id, true
}

func (s *state) add(key string, v *schemaValue, id int, ident string, offset int64, ts time.Time, confirmed bool) {
	e := &entry{key: key, subject: v.Subject, version: v.Version, id: id, deleted: v.Deleted, confirmed: confirmed, offset: offset, ts: ts}
	info := s.ids[id]
	if info == nil {
		info = &schemaInfo{id: id, text: v.Schema, typ: normType(v.SchemaType), refs: v.References, ident: ident}
		s.ids[id] = info
		s.byIdent[ident] = id
	}
	info.usages++
	vs := s.subjects[v.Subject]
	if vs == nil {
		vs = make(map[int]*entry)
		s.subjects[v.Subject] = vs
	}
	vs[v.Version] = e
	s.byKey[key] = e
}

func (s *state) remove(e *entry) {
	delete(s.byKey, e.key)
	if vs := s.subjects[e.subject]; vs != nil && vs[e.version] == e {
		delete(vs, e.version)
		if len(vs) == 0 {
			delete(s.subjects, e.subject)
		}
	}
	if info := s.ids[e.id]; info != nil {
		info.usages--
		if info.usages <= 0 {
			delete(s.ids, e.id)
			if s.byIdent[info.ident] == e.id {
				delete(s.byIdent, info.ident)
			}
		}
	}
}

func (s *state) entriesOf(id int) []*entry {
	var out []*entry
	for _, vs := range s.subjects {
		for _, e := range vs {
			if e.id == id {
				out = append(out, e)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].subject != out[j].subject {
			return out[i].subject < out[j].subject
		}
		return out[i].version < out[j].version
	})
	return out
}

// versions returns the subject's versions in order, with or without the
// soft-deleted ones.
func (s *state) versions(subject string, deleted bool) []*entry {
	var out []*entry
	for _, e := range s.subjects[subject] {
		if deleted || !e.deleted {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out
}

func normType(t string) string {
	if t == "AVRO" {
		return ""
	}
	return t
}

// referrers returns the ids of the schemas that reference version of
// subject and are still live under some subject version. Soft-deleted
// referrers do not count, as in Confluent's registry: deleting the
// referrer first is how a referenced schema is released.
func (s *state) referrers(subject string, version int) []int {
	out := []int{}
	for id, info := range s.ids {
		refers := false
		for _, ref := range info.refs {
			if ref.Subject == subject && ref.Version == version {
				refers = true
				break
			}
		}
		if !refers {
			continue
		}
		for _, e := range s.entriesOf(id) {
			if !e.deleted {
				out = append(out, id)
				break
			}
		}
	}
	sort.Ints(out)
	return out
}
